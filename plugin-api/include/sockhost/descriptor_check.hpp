// What a host accepts from a plugin's entry function: the version rule and the
// descriptor's required fields. Shared by the sockhost host and the SDK's test harness,
// so a plugin that passes its unit tests loads in the host, with the same messages.
// It stays in namespace sockhost, not sockhost::sdk: it is the host's own rule, and both
// sides compile this one definition, so linking them together gives no clash.
#ifndef SOCKHOST_DESCRIPTOR_CHECK_HPP
#define SOCKHOST_DESCRIPTOR_CHECK_HPP

#include <sockhost/plugin.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sockhost {

// The descriptor as ABI 1.0 defined it; a plugin's may be larger, never smaller.
inline constexpr std::size_t kDescriptorSizeV1_0 =
    offsetof(sockhost_plugin_descriptor, finish) + sizeof(void *);

// Empty when a plugin built for `plugin_major`.`plugin_minor` runs on this ABI; otherwise
// the reason, naming both versions: a different major, or a newer minor, is refused.
inline std::string abi_version_problem(std::uint16_t plugin_major, std::uint16_t plugin_minor) {
    const std::string versions = "plugin ABI " + std::to_string(plugin_major) + "." + std::to_string(plugin_minor) +
                                 ", host ABI " + std::to_string(SOCKHOST_ABI_MAJOR) + "." +
                                 std::to_string(SOCKHOST_ABI_MINOR);
    if (plugin_major != SOCKHOST_ABI_MAJOR) return "incompatible ABI major version: " + versions;
    if (plugin_minor > SOCKHOST_ABI_MINOR) return "plugin needs a newer host: " + versions;
    return {};
}

// Empty when the descriptor can be used; otherwise the one-line reason.
inline std::string descriptor_problem(const sockhost_plugin_descriptor *descriptor) {
    if (descriptor == nullptr) return "entry function returned no descriptor";
    if (descriptor->struct_size < kDescriptorSizeV1_0)
        return "descriptor struct_size " + std::to_string(descriptor->struct_size) + " is smaller than ABI 1.0's " +
               std::to_string(kDescriptorSizeV1_0);
    if (std::string version = abi_version_problem(descriptor->abi_major, descriptor->abi_minor); !version.empty())
        return version;
    if (descriptor->handle == nullptr) return "descriptor has no handle hook";
    if (descriptor->name == nullptr || descriptor->name[0] == '\0') return "descriptor has no name";
    if (descriptor->version == nullptr) return "descriptor has no version";
    if ((descriptor->transports & SOCKHOST_TRANSPORTS_ALL) == 0 ||
        (descriptor->transports & ~static_cast<std::uint32_t>(SOCKHOST_TRANSPORTS_ALL)) != 0)
        return "descriptor transports " + std::to_string(descriptor->transports) +
               " name no known transport or unknown ones";
    // ABI 1.2's members, only where struct_size covers them (a 1.0 or 1.1 descriptor ends
    // before them).
    if (SOCKHOST_DESCRIPTOR_HAS(descriptor, handoff) &&
        (descriptor->handoff & ~static_cast<std::uint32_t>(SOCKHOST_HANDOFF_CONNECTIONS)) != 0)
        return "descriptor handoff " + std::to_string(descriptor->handoff) + " has unknown bits";
    // ABI 1.3's create_with_context counts as a create.
    const bool creates = descriptor->create != nullptr || (SOCKHOST_DESCRIPTOR_HAS(descriptor, create_with_context) &&
                                                           descriptor->create_with_context != nullptr);
    if (creates != (descriptor->destroy != nullptr))
        return "descriptor has create without destroy, or destroy without create";
    return {};
}

}  // namespace sockhost

#endif  // SOCKHOST_DESCRIPTOR_CHECK_HPP
