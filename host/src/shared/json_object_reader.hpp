// Reading one JSON object of the configuration: typed members, each error naming the
// key's full path ("listeners[0].timeout"), and unknown keys refused. Private to the
// config parsers (config.cpp, listener_config.cpp).
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <set>
#include <string>
#include <string_view>

namespace sockhost {

using nlohmann::json;

// Reads the members of one JSON object, each error naming the key's full path
// ("listeners[0].timeout"). Keys not read by the end are reported as unknown.
class ObjectReader {
public:
    ObjectReader(const json &object, std::string path) : object_(object), path_(std::move(path)) {}

    std::string key_path(std::string_view key) const {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }

    const json *find(std::string_view key) {
        known_.insert(std::string(key));
        const auto found = object_.find(key);
        return found == object_.end() ? nullptr : &*found;
    }

    Result<void> boolean(std::string_view key, bool &out) {
        const json *value = find(key);
        if (value == nullptr) return {};
        if (!value->is_boolean()) return type_error(key, "true or false", *value);
        out = value->get<bool>();
        return {};
    }

    Result<void> integer(std::string_view key, long long minimum, long long maximum, long long &out) {
        const json *value = find(key);
        if (value == nullptr) return {};
        if (!value->is_number_integer()) return type_error(key, "an integer", *value);
        // Above long long's range (up to 2^64-1): get<long long> would wrap it to a negative.
        if (value->is_number_unsigned() && value->get<unsigned long long>() > static_cast<unsigned long long>(maximum))
            return fail(key_path(key) + ": " + value->dump() + " is out of range " + std::to_string(minimum) + ".." +
                        std::to_string(maximum));
        const auto number = value->get<long long>();
        if (number < minimum || number > maximum)
            return fail(key_path(key) + ": " + std::to_string(number) + " is out of range " +
                        std::to_string(minimum) + ".." + std::to_string(maximum));
        out = number;
        return {};
    }

    // Seconds as a number (fractions allowed), stored as milliseconds.
    Result<void> seconds(std::string_view key, std::chrono::milliseconds &out) {
        const json *value = find(key);
        if (value == nullptr) return {};
        if (!value->is_number()) return type_error(key, "a number of seconds", *value);
        const double number = value->get<double>();
        if (!std::isfinite(number) || number < 0 || number > 86400.0 * 365)
            return fail(key_path(key) + ": " + value->dump() + " is not a number of seconds from 0 to one year");
        const auto rounded = std::chrono::milliseconds(static_cast<long long>(std::llround(number * 1000)));
        // 0 means "none" for some keys: a small positive value must not round to it.
        if (number > 0 && rounded.count() == 0)
            return fail(key_path(key) + ": " + value->dump() + " is below the 1 ms resolution (0 means none)");
        out = rounded;
        return {};
    }

    Result<void> string(std::string_view key, std::string &out, bool required) {
        const json *value = find(key);
        if (value == nullptr) {
            if (required) return fail(key_path(key) + ": required key is missing");
            return {};
        }
        if (!value->is_string()) return type_error(key, "a string", *value);
        if (auto refused = refuse_nul(key, value->get_ref<const std::string &>()); !refused) return refused;
        out = value->get<std::string>();
        return {};
    }

    // Every string the config holds is a path, an address or a name that the system reads
    // as a C string, which a NUL byte (JSON's "\u0000") would end early: "root\u0000x"
    // would be root.
    Result<void> refuse_nul(std::string_view key, const std::string &text) const {
        if (text.find('\0') == std::string::npos) return {};
        return fail(key_path(key) + ": has a NUL byte (\\u0000), where the system would end the string");
    }

    Result<void> reject_unknown() const {
        for (const auto &[key, value] : object_.items())
            if (!known_.contains(key)) return fail(key_path(key) + ": unknown key");
        return {};
    }

    std::unexpected<Error> type_error(std::string_view key, std::string_view expected, const json &value) const {
        return fail(key_path(key) + ": expected " + std::string(expected) + ", got " + std::string(value.type_name()));
    }

private:
    const json &object_;
    std::string path_;
    std::set<std::string, std::less<>> known_;
};

#define SOCKHOST_TRY(expression)                         \
    do {                                                 \
        if (auto result_ = (expression); !result_)       \
            return std::unexpected(result_.error());     \
    } while (false)

}  // namespace sockhost
