// The descriptor of a plugin written inside a test against the bare C ABI: sizes, version,
// name and transports set, every hook NULL for the test to fill in.
#ifndef SOCKHOST_TESTS_SDK_C_TEST_DESCRIPTOR_HPP
#define SOCKHOST_TESTS_SDK_C_TEST_DESCRIPTOR_HPP

#include <sockhost/plugin.h>

#include <cstdint>

inline sockhost_plugin_descriptor c_test_descriptor(const char *name, std::uint32_t transports) {
    sockhost_plugin_descriptor descriptor{};
    descriptor.struct_size = sizeof descriptor;
    descriptor.abi_major = SOCKHOST_ABI_MAJOR;
    descriptor.abi_minor = SOCKHOST_ABI_MINOR;
    descriptor.name = name;
    descriptor.version = "1";
    descriptor.transports = transports;
    return descriptor;
}

#endif  // SOCKHOST_TESTS_SDK_C_TEST_DESCRIPTOR_HPP
