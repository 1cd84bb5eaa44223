// What a host accepts in declare_metric (plugin.h, ABI 1.3): the name, help and bounds
// rules. Shared by the sockhost host and the SDK's test harness, as descriptor_check.hpp
// is, so a declaration the harness accepts is one the host accepts, with the same reason.
#ifndef SOCKHOST_METRIC_CHECK_HPP
#define SOCKHOST_METRIC_CHECK_HPP

#include <sockhost/plugin.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>

namespace sockhost {

inline bool is_metric_name_character(char c, bool first) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    return letter || (!first && c >= '0' && c <= '9');
}

// Empty when the declaration is acceptable; otherwise the reason (without the name).
inline std::string metric_declaration_problem(sockhost_metric_kind kind, const char *name, const char *help,
                                              const double *bounds, std::size_t bound_count) {
    if (kind != SOCKHOST_METRIC_COUNTER && kind != SOCKHOST_METRIC_GAUGE && kind != SOCKHOST_METRIC_HISTOGRAM)
        return "unknown kind " + std::to_string(static_cast<int>(kind));
    if (name == nullptr || name[0] == '\0') return "no name";
    const std::size_t name_length = ::strnlen(name, SOCKHOST_METRIC_NAME_MAX + 1);
    if (name_length > SOCKHOST_METRIC_NAME_MAX)
        return "name longer than " + std::to_string(SOCKHOST_METRIC_NAME_MAX) + " bytes";
    for (std::size_t at = 0; at < name_length; ++at)
        if (!is_metric_name_character(name[at], at == 0))
            return "name is not [a-zA-Z_:][a-zA-Z0-9_:]* (character " + std::to_string(at + 1) + ")";
    if (std::strncmp(name, "sockhost_", 9) == 0) return "names starting with sockhost_ are the host's own";
    if (help == nullptr) return "no help text";
    const std::size_t help_length = ::strnlen(help, SOCKHOST_METRIC_HELP_MAX + 1);
    if (help_length > SOCKHOST_METRIC_HELP_MAX)
        return "help text longer than " + std::to_string(SOCKHOST_METRIC_HELP_MAX) + " bytes";
    for (std::size_t at = 0; at < help_length; ++at)
        if (static_cast<unsigned char>(help[at]) < 0x20 || help[at] == 0x7f) return "help text has a control character";
    if (kind != SOCKHOST_METRIC_HISTOGRAM) {
        if (bound_count != 0) return "bounds given for a metric that is not a histogram";
        return {};
    }
    if (bound_count > SOCKHOST_METRIC_BOUNDS_MAX)
        return std::to_string(bound_count) + " bounds, more than " + std::to_string(SOCKHOST_METRIC_BOUNDS_MAX);
    if (bound_count > 0 && bounds == nullptr) return "no bounds array for " + std::to_string(bound_count) + " bounds";
    for (std::size_t at = 0; at < bound_count; ++at) {
        if (!std::isfinite(bounds[at])) return "bound " + std::to_string(at + 1) + " is not finite";
        if (at > 0 && !(bounds[at] > bounds[at - 1]))
            return "bounds are not strictly increasing (bound " + std::to_string(at + 1) + ")";
    }
    return {};
}

}  // namespace sockhost

#endif  // SOCKHOST_METRIC_CHECK_HPP
