// The kv plugin's data: one map per plugin instance, shared by every request of that
// instance. Requests run concurrently under the threading mode, so readers share a lock
// and writers take it alone. No lock is held across host I/O, so a slow client never blocks other requests.
#ifndef SOCKHOST_EXAMPLES_KEY_VALUE_STORE_HPP
#define SOCKHOST_EXAMPLES_KEY_VALUE_STORE_HPP

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

class KeyValueStore {
public:
    void set(std::string_view key, std::string_view value) {
        const std::unique_lock lock(mutex_);
        entries_.insert_or_assign(std::string(key), std::string(value));
    }

    std::optional<std::string> get(std::string_view key) const {
        const std::shared_lock lock(mutex_);
        const auto found = entries_.find(key);
        if (found == entries_.end()) return std::nullopt;
        return found->second;
    }

    // True when the key was there.
    bool erase(std::string_view key) {
        const std::unique_lock lock(mutex_);
        const auto found = entries_.find(key);
        if (found == entries_.end()) return false;
        entries_.erase(found);
        return true;
    }

    std::size_t size() const {
        const std::shared_lock lock(mutex_);
        return entries_.size();
    }

    // A copy of every entry, taken at one instant: readers go on meanwhile, writers wait
    // for the copy (not for what the caller does with it).
    std::vector<std::pair<std::string, std::string>> snapshot() const {
        const std::shared_lock lock(mutex_);
        return {entries_.begin(), entries_.end()};
    }

    // Replaces every entry with these.
    void replace_all(std::vector<std::pair<std::string, std::string>> entries) {
        Entries replacement;
        replacement.reserve(entries.size());
        for (auto &[key, value] : entries) replacement.insert_or_assign(std::move(key), std::move(value));
        const std::unique_lock lock(mutex_);
        entries_.swap(replacement);
    }

private:
    // Transparent hashing: look up a std::string_view without building a std::string.
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept {
            return std::hash<std::string_view>{}(text);
        }
    };

    using Entries = std::unordered_map<std::string, std::string, Hash, std::equal_to<>>;

    mutable std::shared_mutex mutex_;
    Entries entries_;
};

#endif  // SOCKHOST_EXAMPLES_KEY_VALUE_STORE_HPP
