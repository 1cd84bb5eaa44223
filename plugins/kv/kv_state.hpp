// The kv plugin's exported state: every entry of a store, in a compact binary form that
// the next generation's kv imports at a reload. Version 1, integers little-endian:
//
//   "kvst"              4 bytes
//   version             1 byte: 1
//   entry count         8 bytes
//   per entry:          key length (4 bytes), key, value length (4 bytes), value
//
// The decoder reads bytes that come from another process, so it trusts nothing: every
// length is checked against what is left, and trailing bytes, keys kv cannot serve and a
// key given twice are refused, each with a message that says where.
#ifndef SOCKHOST_EXAMPLES_KV_STATE_HPP
#define SOCKHOST_EXAMPLES_KV_STATE_HPP

#include <string>
#include <string_view>
#include <utility>
#include <vector>

using KvEntries = std::vector<std::pair<std::string, std::string>>;

// A key kv serves: not empty, no space (a space ends the key in "SET key value").
inline bool is_kv_key(std::string_view key) { return !key.empty() && key.find(' ') == std::string_view::npos; }

// The state of these entries, in their order.
std::string encode_kv_state(const KvEntries &entries);

// The entries of a kv state in their order, or the reason `bytes` are not one.
struct DecodedKvState {
    KvEntries entries;  // empty when `error` is set
    std::string error;  // "kv state: ..."; empty when decoded
    bool ok() const noexcept { return error.empty(); }
};
DecodedKvState decode_kv_state(std::string_view bytes);

#endif  // SOCKHOST_EXAMPLES_KV_STATE_HPP
