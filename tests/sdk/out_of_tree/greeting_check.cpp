// Loads the built greeting.so with the SDK's harness and checks its answers: with no
// config, with a word, and a refused key.
#include <sockhost/testing.hpp>

#include <cstdio>

int main() {
    try {
        const sockhost::sdk::testing::Plugin plugin{std::filesystem::path(GREETING_PLUGIN)};
        sockhost::sdk::testing::Input input;
        input.peer = "192.0.2.7:4000";
        const auto result = sockhost::sdk::testing::run(plugin, "{}", input);
        if (!result.ok() || result.output != "hello, 192.0.2.7:4000\n") {
            std::fprintf(stderr, "unexpected output: '%s'\n", result.output.c_str());
            return 1;
        }
        const auto worded = sockhost::sdk::testing::run(plugin, R"({"word": "hi"})", input);
        if (!worded.ok() || worded.output != "hi, 192.0.2.7:4000\n") {
            std::fprintf(stderr, "unexpected output with a word: '%s'\n", worded.output.c_str());
            return 1;
        }
        const auto refused = sockhost::sdk::testing::run(plugin, R"({"wrod": "hi"})", input);
        if (refused.create != SOCKHOST_ERROR || refused.create_error != "greeting config: unknown key 'wrod' (known keys: word)") {
            std::fprintf(stderr, "unexpected refusal: '%s'\n", refused.create_error.c_str());
            return 1;
        }
    } catch (const std::exception &error) {
        std::fprintf(stderr, "%s\n", error.what());
        return 1;
    }
    std::puts("greeting plugin OK");
    return 0;
}
