// plugin-api/abi/1.N/sockhost/plugin.h is plugin.h exactly as ABI 1.N was released; the
// e2e tests build a plugin against each and load it into the current host. These tests
// keep the copies honest: each matches its abi-history.txt line, and every minor up to the
// current one has its copy, so a new minor cannot ship without freezing its header.
#include "abi_fingerprint.hpp"

#include <sockhost/plugin.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace {

using sockhost::test::abi_fingerprint_of;
using sockhost::test::file_text;
using sockhost::test::sha256_of_text;

// Each version's recorded hashes: the whole-file ones (up to 1.1) and the declarations one.
struct RecordedHashes {
    std::set<std::string> whole_file;
    std::string declarations;
};

std::map<std::string, RecordedHashes> recorded_hashes() {
    std::map<std::string, RecordedHashes> hashes;
    std::ifstream file(SOCKHOST_ABI_RECORD);
    std::string line;
    while (std::getline(file, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream words(line);
        std::string version, second, third;
        words >> version >> second >> third;
        if (second == "declarations") hashes[version].declarations = third;
        else hashes[version].whole_file.insert(second);
    }
    return hashes;
}

std::string frozen_header_of(const std::string &version) {
    return std::string(SOCKHOST_FROZEN_ABI_DIR) + "/" + version + "/sockhost/plugin.h";
}

TEST(AbiFrozenHeaders, EveryMinorUpToTheCurrentOneIsFrozen) {
    for (int minor = 0; minor <= SOCKHOST_ABI_MINOR; ++minor) {
        const std::string version = std::to_string(SOCKHOST_ABI_MAJOR) + "." + std::to_string(minor);
        EXPECT_TRUE(std::filesystem::is_regular_file(frozen_header_of(version)))
            << "no frozen header for ABI " << version << ": copy plugin.h as released to "
            << frozen_header_of(version);
    }
}

TEST(AbiFrozenHeaders, NoFrozenHeaderIsNewerThanTheHost) {
    for (const auto &entry : std::filesystem::directory_iterator(SOCKHOST_FROZEN_ABI_DIR)) {
        const std::string version = entry.path().filename().string();
        const std::string major = std::to_string(SOCKHOST_ABI_MAJOR) + ".";
        ASSERT_EQ(version.rfind(major, 0), 0u) << "frozen header of another major: " << entry.path();
        EXPECT_LE(std::stoi(version.substr(major.size())), SOCKHOST_ABI_MINOR) << entry.path();
    }
}

// Each copy hashes to every line recorded for its version: whole-file lines byte for
// byte, declarations lines by abi_fingerprint_of. Every frozen version has some line.
TEST(AbiFrozenHeaders, EachMatchesItsHistoryLine) {
    const auto hashes = recorded_hashes();
    for (const auto &entry : std::filesystem::directory_iterator(SOCKHOST_FROZEN_ABI_DIR)) {
        const std::string version = entry.path().filename().string();
        const std::string text = file_text(frozen_header_of(version));
        ASSERT_FALSE(text.empty()) << frozen_header_of(version);
        ASSERT_TRUE(hashes.contains(version)) << "abi-history.txt has no line for ABI " << version;
        const RecordedHashes &recorded = hashes.at(version);
        for (const std::string &whole_file : recorded.whole_file) {
            EXPECT_EQ(sha256_of_text(text), whole_file) << version << ": not byte for byte as released";
        }
        if (!recorded.declarations.empty()) {
            EXPECT_EQ(abi_fingerprint_of(text), recorded.declarations) << version << ": declarations differ";
        }
        EXPECT_NE(text.find("#define SOCKHOST_ABI_MINOR " + version.substr(version.find('.') + 1)),
                  std::string::npos)
            << version << ": the header declares another minor";
    }
}

// The current minor's frozen copy declares what the live header declares.
TEST(AbiFrozenHeaders, CurrentMinorMatchesTheLiveHeader) {
    const std::string version = std::to_string(SOCKHOST_ABI_MAJOR) + "." + std::to_string(SOCKHOST_ABI_MINOR);
    EXPECT_EQ(abi_fingerprint_of(file_text(frozen_header_of(version))),
              abi_fingerprint_of(file_text(SOCKHOST_PLUGIN_HEADER)));
}

}  // namespace
