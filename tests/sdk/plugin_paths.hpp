// Where the tests find the plugins they load by path (set by tests/sdk/CMakeLists.txt).
#ifndef SOCKHOST_TESTS_SDK_PLUGIN_PATHS_HPP
#define SOCKHOST_TESTS_SDK_PLUGIN_PATHS_HPP

#include <filesystem>
#include <string>
#include <string_view>

inline std::filesystem::path example_plugin(std::string_view name) {
    return std::filesystem::path(SOCKHOST_EXAMPLE_PLUGIN_DIR) / (std::string(name) + ".so");
}

inline std::filesystem::path sdk_test_plugin(std::string_view name) {
    return std::filesystem::path(SOCKHOST_SDK_TEST_PLUGIN_DIR) / (std::string(name) + ".so");
}

#endif  // SOCKHOST_TESTS_SDK_PLUGIN_PATHS_HPP
