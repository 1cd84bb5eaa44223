#include "plugin_paths.hpp"

#include <sockhost/testing.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <regex>

namespace {

using sockhost::sdk::testing::Input;
using sockhost::sdk::testing::Plugin;
using sockhost::sdk::testing::run;

const Plugin &daytime() {
    static const Plugin plugin(example_plugin("daytime"));
    return plugin;
}

// "Tuesday, February 22, 1982 17:37:43-PST\r\n"
const std::regex kDaytimeLine(
    R"(^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), )"
    R"((January|February|March|April|May|June|July|August|September|October|November|December) )"
    R"(\d{2}, (\d{4}) \d{2}:\d{2}:\d{2}-([A-Za-z0-9+-]+)\r\n$)");

class DaytimePlugin : public ::testing::Test {
protected:
    void SetUp() override {
        const char *zone = std::getenv("TZ");
        saved_zone_ = zone != nullptr ? std::optional<std::string>(zone) : std::nullopt;
        ::setenv("TZ", "UTC", 1);
        ::tzset();
    }
    void TearDown() override {
        if (saved_zone_) ::setenv("TZ", saved_zone_->c_str(), 1);
        else ::unsetenv("TZ");
        ::tzset();
    }

private:
    std::optional<std::string> saved_zone_;
};

TEST_F(DaytimePlugin, WritesTheDateLineOnAStream) {
    const auto result = run(daytime(), "{}", Input{});
    EXPECT_TRUE(result.ok()) << result.error;
    std::smatch match;
    ASSERT_TRUE(std::regex_match(result.output, match, kDaytimeLine)) << result.output;
    EXPECT_EQ(match[4], "UTC");
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    EXPECT_NEAR(std::stoi(match[3]), utc.tm_year + 1900, 1);
    EXPECT_EQ(result.unflushed_bytes, 0u);
}

TEST_F(DaytimePlugin, AnswersAnyDatagram) {
    for (const auto transport : {SOCKHOST_TRANSPORT_UDP, SOCKHOST_TRANSPORT_UNIX_DGRAM}) {
        Input input;
        input.transport = transport;
        input.bytes = "what time is it?";
        const auto result = run(daytime(), "{}", input);
        EXPECT_TRUE(result.ok()) << result.error;
        EXPECT_TRUE(std::regex_match(result.output, kDaytimeLine)) << result.output;
    }
}

TEST_F(DaytimePlugin, RejectsConfigKeysByName) {
    const auto result = run(daytime(), R"({"format": "%c"})", Input{});
    EXPECT_EQ(result.create, SOCKHOST_ERROR);
    EXPECT_NE(result.create_error.find("'format'"), std::string::npos) << result.create_error;
}

}  // namespace
