// Loads the built greeting.so with the SDK's harness and checks its answer.
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
    } catch (const std::exception &error) {
        std::fprintf(stderr, "%s\n", error.what());
        return 1;
    }
    std::puts("greeting plugin OK");
    return 0;
}
