// sockhost/config.hpp: a plugin's config read by key, every refusal naming the plugin and
// the key, as a plain std::runtime_error (logged as it is).
#include <sockhost/config.hpp>

#include <gtest/gtest.h>

#include <string>
#include <typeinfo>
#include <vector>

namespace {

using sockhost::sdk::Config;

// The message of the std::runtime_error that `read` throws ("" if none).
template <typename Read>
std::string refusal(Read &&read) {
    try {
        read();
    } catch (const std::runtime_error &error) {
        EXPECT_EQ(typeid(error), typeid(std::runtime_error));
        return error.what();
    }
    return "";
}

TEST(SdkConfig, ReadsEachKindWithItsFallback) {
    const Config config("demo", R"({"name": "x", "on": true, "size": 12, "ratio": 0.5, "tags": ["a", "b"]})",
                        {"name", "on", "size", "ratio", "tags", "absent"});
    EXPECT_EQ(config.string("name", "fallback"), "x");
    EXPECT_TRUE(config.boolean("on", false));
    EXPECT_EQ(config.unsigned_integer("size", 1, 0, 100), 12u);
    EXPECT_DOUBLE_EQ(config.number("ratio", 1, 0, 1), 0.5);
    EXPECT_EQ(config.strings("tags"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(config.string("absent", "fallback"), "fallback");
    EXPECT_EQ(config.unsigned_integer("absent", 7, 0, 100), 7u);
    EXPECT_TRUE(config.strings("absent").empty());
    EXPECT_FALSE(config.has("absent"));
    EXPECT_EQ(config.json().at("size"), 12);
}

TEST(SdkConfig, AnEmptyTextIsAnEmptyObject) {
    const Config config("demo", "", {});
    EXPECT_TRUE(config.json().empty());
}

TEST(SdkConfig, RefusalsNameThePluginAndTheKey) {
    EXPECT_EQ(refusal([] { Config("demo", "{", {}); }).rfind("demo config: not valid JSON: ", 0), 0u);
    EXPECT_EQ(refusal([] { Config("demo", "[1]", {}); }), "demo config: must be a JSON object");
    EXPECT_EQ(refusal([] { Config("demo", R"({"colour": 1})", {}); }),
              "demo config: unknown key 'colour' (this plugin takes no config keys)");
    EXPECT_EQ(refusal([] { Config("demo", R"({"colour": 1})", {"color", "size"}); }),
              "demo config: unknown key 'colour' (known keys: color size)");
    const Config config("demo", R"({"name": 1, "on": "yes", "size": 101, "neg": -1, "ratio": 2, "tags": ["a", 1]})",
                        {"name", "on", "size", "neg", "ratio", "tags"});
    EXPECT_EQ(refusal([&] { config.string("name", ""); }), "demo config: key 'name' must be a string");
    EXPECT_EQ(refusal([&] { config.boolean("on", false); }), "demo config: key 'on' must be true or false");
    EXPECT_EQ(refusal([&] { config.unsigned_integer("size", 0, 1, 100); }),
              "demo config: key 'size' must be an integer from 1 to 100");
    EXPECT_EQ(refusal([&] { config.unsigned_integer("neg", 0, 0, 100); }),
              "demo config: key 'neg' must be an integer from 0 to 100");
    EXPECT_EQ(refusal([&] { config.number("ratio", 0, 0, 1.5); }), "demo config: key 'ratio' must be a number from 0.0 to 1.5");
    EXPECT_EQ(refusal([&] { config.strings("tags"); }), "demo config: key 'tags' must be an array of strings");
}

}  // namespace
