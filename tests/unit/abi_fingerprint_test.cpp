// The fingerprint abi-history.txt records for plugin.h: it ignores comments and layout, and
// sees every declaration. Fed edited copies of the real header.
#include "abi_fingerprint.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace sockhost::test {
namespace {

// `text` with the first `from` replaced by `to`; throws if `from` is absent, so that an
// edit of plugin.h cannot turn a case into a comparison of the header with itself.
std::string edited(std::string text, std::string_view from, std::string_view to) {
    const std::size_t at = text.find(from);
    if (at == std::string::npos) throw std::logic_error("plugin.h has no '" + std::string(from) + "'");
    return text.replace(at, from.size(), to);
}

class AbiFingerprint : public ::testing::Test {
protected:
    const std::string header = file_text(SOCKHOST_PLUGIN_HEADER);
    const std::string fingerprint = abi_fingerprint_of(header);

    void SetUp() override {
        ASSERT_FALSE(header.empty()) << SOCKHOST_PLUGIN_HEADER;
        ASSERT_EQ(fingerprint.size(), 64u) << "sha256sum did not run";
    }
};

TEST_F(AbiFingerprint, IgnoresAnEditedComment) {
    EXPECT_EQ(abi_fingerprint_of(edited(header, "/* The one symbol a plugin exports. */",
                                        "/* The one symbol a plugin exports; the host looks up nothing else. */")),
              fingerprint);
}

TEST_F(AbiFingerprint, IgnoresAddedComments) {
    EXPECT_EQ(abi_fingerprint_of(edited(header, "    void (*destroy)(void *instance);",
                                        "    /* Runs once, on the thread that ran create.\n"
                                        "     * The instance is gone afterwards. */\n"
                                        "    void (*destroy)(void *instance); // owns nothing else")),
              fingerprint);
    EXPECT_EQ(abi_fingerprint_of("// A new first line.\n" + header), fingerprint);
}

TEST_F(AbiFingerprint, IgnoresIndentationBlankLinesAndLineBreaks) {
    EXPECT_EQ(abi_fingerprint_of(edited(header, "    sockhost_status (*finish)(void *instance, sockhost_request *request);",
                                        "\n\n\tsockhost_status (*finish)(void *instance,\n"
                                        "\t                           sockhost_request *request);")),
              fingerprint);
}

TEST_F(AbiFingerprint, SeesAChangedMemberType) {
    EXPECT_NE(abi_fingerprint_of(edited(header, "uint32_t transports;", "uint64_t transports;")), fingerprint);
}

TEST_F(AbiFingerprint, SeesAnAddedMember) {
    EXPECT_NE(abi_fingerprint_of(edited(header, "} sockhost_host_api;", "    int (*added)(void);\n} sockhost_host_api;")),
              fingerprint);
}

TEST_F(AbiFingerprint, SeesARenamedMember) {
    EXPECT_NE(abi_fingerprint_of(edited(header, "(*process_init)", "(*process_start)")), fingerprint);
}

// A macro whose value never changes within a major (the version macros do, at each bump).
TEST_F(AbiFingerprint, SeesAChangedMacro) {
    EXPECT_NE(abi_fingerprint_of(edited(header, "#define SOCKHOST_HANDOFF_STATE_MAX 16384",
                                        "#define SOCKHOST_HANDOFF_STATE_MAX 16385")),
              fingerprint);
}

TEST_F(AbiFingerprint, SeesAChangedStringLiteral) {
    EXPECT_NE(abi_fingerprint_of(edited(header, "\"sockhost_plugin_entry\"", "\"sockhost_plugin_entry \"")),
              fingerprint);
}

// What the canonical text keeps, on small inputs.
TEST(AbiDeclarations, CommentsBecomeOneSpace) {
    EXPECT_EQ(declarations_of("int/* a */x; // b\nint   y;\n"), "int x; int y;\n");
}

TEST(AbiDeclarations, LiteralsKeepCommentMarkersAndSpaces) {
    EXPECT_EQ(declarations_of("const char *s = \"a/*b*/  c//d\";\n"), "const char *s = \"a/*b*/  c//d\";\n");
    EXPECT_EQ(declarations_of("char q = '\"'; /* \" */ int x;\n"), "char q = '\"'; int x;\n");
}

TEST(AbiDeclarations, DirectivesKeepTheirOwnLines) {
    EXPECT_EQ(declarations_of("#define A 1\n\n   #define B (2 \\\n  + 3)\nint x;\n#endif\n"),
              "#define A 1\n#define B (2 + 3)\nint x;\n#endif\n");
    EXPECT_NE(declarations_of("#define A 1\n+ 2\n"), declarations_of("#define A 1 + 2\n"));
}

}  // namespace
}  // namespace sockhost::test
