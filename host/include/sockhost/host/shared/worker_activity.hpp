// What each worker's requests are doing, on a page of memory the supervisor shares with
// the worker (shared/shared_table.hpp). A
// request holds a slot from its first hook to its last and says which hook runs and, when
// the plugin's code has control (not a host I/O call), since when. The supervisor reads
// it while the worker lives (a hook stuck in plugin code) and after it died (the hook and
// peer it crashed in). The worker writes without locks or system calls: atomic stores
// only, with a coarse clock.
//
// The supervisor treats what it reads as untrusted bytes: a plugin can scribble on the
// page. Every field is checked and every string bounded before it is used.
#pragma once

#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/shared_table.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <sys/types.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sockhost {

enum class Hook : std::uint32_t { none, verify, setup, handle, finish };
std::string_view hook_name(Hook hook);

// clock.hpp's coarse_now() in milliseconds: what the table's times are written in.
inline std::int64_t coarse_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(coarse_now().time_since_epoch()).count();
}

struct ActivitySlot {
    static constexpr std::size_t kPeerCapacity = sizeof(sockaddr_un);  // and any inet address
    // Odd while a request holds the slot; each hold and release adds one, so the
    // supervisor tells one request's stall from the next one's in the same slot.
    std::atomic<std::uint32_t> serial{0};
    std::atomic<std::int32_t> pid{0};       // the process running the request
    std::atomic<std::int32_t> listener{-1};  // its index in the configuration's listeners
    std::atomic<std::uint32_t> hook{0};
    // When the plugin's code last got control (a hook began, a host call returned); 0
    // while the host has it.
    std::atomic<std::int64_t> plugin_since_ms{0};
    // The peer's socket address as accept or recvfrom gave it (formatted by the reader:
    // most requests are never reported), written before `hook` is set. Atomic words, not
    // bytes: the reader may copy them while the slot's next request writes its own.
    std::atomic<std::uint32_t> peer_length{0};
    static constexpr std::size_t kPeerWords = (kPeerCapacity + 7) / 8;
    std::atomic<std::uint64_t> peer_words[kPeerWords] = {};

    void store_peer(const void *address, std::size_t length);
    // Copies at most kPeerCapacity bytes into `out`; returns how many.
    std::size_t load_peer(void *out) const;
};

struct ActivityTable {
    static constexpr std::size_t kSlots = 512;  // more concurrent requests go unrecorded
    std::atomic<std::uint32_t> slots_used{0};   // a high-water mark: readers scan below it
    ActivitySlot slots[kSlots];

    static constexpr const char *kWhat = "activity table";
};

// The mapping of one worker's table; unmapped when this goes.
using ActivityMapping = SharedTable<ActivityTable>;

// A request the supervisor found in plugin code, copied out and checked.
struct PluginActivity {
    std::size_t slot = 0;
    std::uint32_t serial = 0;
    pid_t pid = 0;
    int listener = -1;
    Hook hook = Hook::none;
    std::string peer;
    std::chrono::milliseconds in_plugin{0};
};

// The requests of `table` in plugin code at `now_ms`, each with its fields checked
// (`listener_count` bounds the listener index).
std::vector<PluginActivity> activities_in_plugin_code(const ActivityTable &table, std::int64_t now_ms,
                                                      int listener_count);

}  // namespace sockhost
