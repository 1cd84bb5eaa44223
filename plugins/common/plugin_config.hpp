// Reading an example plugin's JSON config: a typo or a wrong type fails create with a
// message naming the key, instead of being silently ignored.
#ifndef SOCKHOST_EXAMPLES_PLUGIN_CONFIG_HPP
#define SOCKHOST_EXAMPLES_PLUGIN_CONFIG_HPP

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

namespace plugin_config {

// Parses `text` as a JSON object whose keys are all in `known_keys`.
inline nlohmann::json parse(std::string_view plugin, std::string_view text,
                            std::initializer_list<std::string_view> known_keys) {
    const std::string prefix = std::string(plugin) + " config: ";
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception &error) {
        throw std::runtime_error(prefix + "not valid JSON: " + error.what());
    }
    if (!config.is_object()) throw std::runtime_error(prefix + "must be a JSON object");
    for (const auto &item : config.items()) {
        bool known = false;
        for (const std::string_view key : known_keys) known = known || item.key() == key;
        if (known) continue;
        std::string message = prefix + "unknown key '" + item.key() + "'";
        if (known_keys.size() == 0) {
            message += " (this plugin takes no config keys)";
        } else {
            message += " (known keys:";
            for (const std::string_view key : known_keys) message += " " + std::string(key);
            message += ")";
        }
        throw std::runtime_error(message);
    }
    return config;
}

inline std::string string_value(std::string_view plugin, const nlohmann::json &config,
                                const char *key, std::string fallback) {
    if (!config.contains(key)) return fallback;
    const auto &value = config.at(key);
    if (!value.is_string())
        throw std::runtime_error(std::string(plugin) + " config: key '" + key +
                                    "' must be a string");
    return value.get<std::string>();
}

// An unsigned integer in [minimum, maximum].
inline std::uint64_t unsigned_value(std::string_view plugin, const nlohmann::json &config,
                                    const char *key, std::uint64_t fallback,
                                    std::uint64_t minimum, std::uint64_t maximum) {
    if (!config.contains(key)) return fallback;
    const auto &value = config.at(key);
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() < minimum ||
        value.get<std::uint64_t>() > maximum)
        throw std::runtime_error(std::string(plugin) + " config: key '" + key +
                                    "' must be an integer from " + std::to_string(minimum) +
                                    " to " + std::to_string(maximum));
    return value.get<std::uint64_t>();
}

}  // namespace plugin_config

#endif  // SOCKHOST_EXAMPLES_PLUGIN_CONFIG_HPP
