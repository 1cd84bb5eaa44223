#include "kv_state.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <unordered_set>

namespace {

constexpr std::string_view kMagic = "kvst";
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeaderBytes = kMagic.size() + 1 + 8;
constexpr std::size_t kSmallestEntryBytes = 4 + 4;

void append_little_endian(std::string &out, std::uint64_t value, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

void append_field(std::string &out, std::string_view field) {
    if (field.size() > UINT32_MAX) throw std::length_error("kv state: a key or value over 4 GiB");
    append_little_endian(out, field.size(), 4);
    out += field;
}

// Reads from the front of the bytes left; each read says whether there were enough.
class Reader {
public:
    explicit Reader(std::string_view bytes) : left_(bytes) {}

    bool little_endian(std::size_t bytes, std::uint64_t &value) {
        if (left_.size() < bytes) return false;
        value = 0;
        for (std::size_t i = 0; i < bytes; ++i)
            value |= static_cast<std::uint64_t>(static_cast<unsigned char>(left_[i])) << (8 * i);
        left_.remove_prefix(bytes);
        return true;
    }

    bool field(std::string_view &value) {
        std::uint64_t length = 0;
        if (!little_endian(4, length) || left_.size() < length) return false;
        value = left_.substr(0, length);
        left_.remove_prefix(length);
        return true;
    }

    std::size_t left() const noexcept { return left_.size(); }

private:
    std::string_view left_;
};

DecodedKvState refused(std::string reason) { return {{}, "kv state: " + std::move(reason)}; }

}  // namespace

std::string encode_kv_state(const KvEntries &entries) {
    std::string out(kMagic);
    out += static_cast<char>(kVersion);
    append_little_endian(out, entries.size(), 8);
    for (const auto &[key, value] : entries) {
        append_field(out, key);
        append_field(out, value);
    }
    return out;
}

DecodedKvState decode_kv_state(std::string_view bytes) {
    if (bytes.size() < kHeaderBytes)
        return refused(std::to_string(bytes.size()) + " bytes, shorter than its " + std::to_string(kHeaderBytes) +
                       "-byte header");
    if (!bytes.starts_with(kMagic)) return refused("does not begin with \"kvst\": not a kv state");
    const auto version = static_cast<unsigned char>(bytes[kMagic.size()]);
    if (version != kVersion)
        return refused("version " + std::to_string(version) + ", and this kv reads version " +
                       std::to_string(kVersion));

    Reader reader(bytes.substr(kMagic.size() + 1));
    std::uint64_t count = 0;
    reader.little_endian(8, count);
    // Checked before anything is reserved: a forged count must not make us allocate.
    if (count > reader.left() / kSmallestEntryBytes)
        return refused("says " + std::to_string(count) + " entries, more than its " + std::to_string(reader.left()) +
                       " bytes after the header can hold");

    DecodedKvState decoded;
    decoded.entries.reserve(static_cast<std::size_t>(count));
    std::unordered_set<std::string_view> keys;
    keys.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t index = 1; index <= count; ++index) {
        const std::string where = "entry " + std::to_string(index) + " of " + std::to_string(count);
        std::string_view key;
        std::string_view value;
        if (!reader.field(key)) return refused(where + " is cut short in its key");
        if (!reader.field(value)) return refused(where + " is cut short in its value");
        if (!is_kv_key(key)) return refused(where + " has a key kv cannot serve (empty, or with a space)");
        if (!keys.insert(key).second) return refused(where + " repeats the key of an earlier entry");
        decoded.entries.emplace_back(key, value);
    }
    if (reader.left() != 0) return refused(std::to_string(reader.left()) + " bytes after the last entry");
    return decoded;
}
