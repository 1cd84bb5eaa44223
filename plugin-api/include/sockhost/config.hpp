// Reading a plugin's JSON config (the text its constructor gets) with errors that name the
// key: an unknown key (a typo), a wrong type or a value out of range fails create with
// "NAME config: key 'K' must be …", instead of being silently ignored. Header-only, over
// nlohmann_json (link sockhost::config, which brings it). Every error is a plain
// std::runtime_error, whose message the host logs as it is.
//
//     const sockhost::sdk::Config config("kv", config_json, {"max_line_bytes", "greeting"});
//     max_line_bytes_ = config.unsigned_integer("max_line_bytes", 4096, 1, 1 << 20);
//     greeting_ = config.string("greeting", "hello");
#ifndef SOCKHOST_CONFIG_HPP
#define SOCKHOST_CONFIG_HPP

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sockhost::sdk {

class Config {
public:
    // Parses `text` as a JSON object whose keys are all in `known_keys`; `plugin` names the
    // plugin in messages. An empty text is an empty object.
    Config(std::string_view plugin, std::string_view text, std::initializer_list<std::string_view> known_keys)
        : prefix_(std::string(plugin) + " config: ") {
        try {
            json_ = text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception &error) {
            throw std::runtime_error(prefix_ + "not valid JSON: " + error.what());
        }
        if (!json_.is_object()) throw std::runtime_error(prefix_ + "must be a JSON object");
        for (const auto &item : json_.items()) {
            bool known = false;
            for (const std::string_view key : known_keys) known = known || item.key() == key;
            if (!known) throw std::runtime_error(prefix_ + "unknown key '" + item.key() + "'" + listed(known_keys));
        }
    }

    bool has(const char *key) const { return json_.contains(key); }

    std::string string(const char *key, std::string fallback) const {
        if (!has(key)) return fallback;
        const auto &value = json_.at(key);
        if (!value.is_string()) throw refused(key, "must be a string");
        return value.get<std::string>();
    }

    bool boolean(const char *key, bool fallback) const {
        if (!has(key)) return fallback;
        const auto &value = json_.at(key);
        if (!value.is_boolean()) throw refused(key, "must be true or false");
        return value.get<bool>();
    }

    // An integer in [minimum, maximum].
    std::uint64_t unsigned_integer(const char *key, std::uint64_t fallback, std::uint64_t minimum,
                                   std::uint64_t maximum) const {
        if (!has(key)) return fallback;
        const auto &value = json_.at(key);
        if (!value.is_number_unsigned() || value.get<std::uint64_t>() < minimum || value.get<std::uint64_t>() > maximum)
            throw refused(key, "must be an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum));
        return value.get<std::uint64_t>();
    }

    // A number (integer or not) in [minimum, maximum].
    double number(const char *key, double fallback, double minimum, double maximum) const {
        if (!has(key)) return fallback;
        const auto &value = json_.at(key);
        if (!value.is_number() || !(value.get<double>() >= minimum && value.get<double>() <= maximum))
            throw refused(key, "must be a number from " + shortest(minimum) + " to " + shortest(maximum));
        return value.get<double>();
    }

    // An array of strings; absent: empty.
    std::vector<std::string> strings(const char *key) const {
        if (!has(key)) return {};
        const auto &value = json_.at(key);
        std::vector<std::string> items;
        if (value.is_array())
            for (const auto &item : value)
                if (item.is_string()) items.push_back(item.get<std::string>());
        if (!value.is_array() || items.size() != value.size()) throw refused(key, "must be an array of strings");
        return items;
    }

    // The whole object, for what the readers above do not cover.
    const nlohmann::json &json() const { return json_; }

private:
    static std::string listed(std::initializer_list<std::string_view> keys) {
        if (keys.size() == 0) return " (this plugin takes no config keys)";
        std::string text = " (known keys:";
        for (const std::string_view key : keys) text += " " + std::string(key);
        return text + ")";
    }
    static std::string shortest(double value) { return nlohmann::json(value).dump(); }
    std::runtime_error refused(const char *key, const std::string &why) const {
        return std::runtime_error(prefix_ + "key '" + key + "' " + why);
    }

    std::string prefix_;
    nlohmann::json json_;
};

}  // namespace sockhost::sdk

#endif  // SOCKHOST_CONFIG_HPP
