#include <sockhost/host/shared/worker_activity.hpp>

#include <sockhost/host/shared/address.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace sockhost {

// The table is shared with another process and starts as the memfd's zero bytes: each
// field must be a lock-free atomic whose zero is its initial value.
static_assert(std::atomic<std::uint32_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free);

std::string_view hook_name(Hook hook) {
    switch (hook) {
    case Hook::none: return "none";
    case Hook::verify: return "verify";
    case Hook::setup: return "setup";
    case Hook::handle: return "handle";
    case Hook::finish: return "finish";
    }
    return "?";
}


void ActivitySlot::store_peer(const void *address, std::size_t length) {
    length = std::min(length, kPeerCapacity);
    std::uint64_t words[kPeerWords] = {};
    std::memcpy(words, address, length);
    for (std::size_t index = 0; index < kPeerWords; ++index)
        peer_words[index].store(words[index], std::memory_order_relaxed);
    peer_length.store(static_cast<std::uint32_t>(length), std::memory_order_relaxed);
}

std::size_t ActivitySlot::load_peer(void *out) const {
    const std::size_t length = std::min<std::size_t>(peer_length.load(std::memory_order_acquire), kPeerCapacity);
    std::uint64_t words[kPeerWords];
    for (std::size_t index = 0; index < kPeerWords; ++index)
        words[index] = peer_words[index].load(std::memory_order_relaxed);
    std::memcpy(out, words, length);
    return length;
}

std::vector<PluginActivity> activities_in_plugin_code(const ActivityTable &table, std::int64_t now_ms,
                                                      int listener_count) {
    std::vector<PluginActivity> found;
    const std::size_t used = std::min<std::size_t>(table.slots_used.load(std::memory_order_acquire), ActivityTable::kSlots);
    for (std::size_t index = 0; index < used; ++index) {
        const ActivitySlot &slot = table.slots[index];
        const std::uint32_t serial = slot.serial.load(std::memory_order_acquire);
        const std::int64_t since = slot.plugin_since_ms.load(std::memory_order_acquire);
        if (serial % 2 == 0 || since <= 0) continue;
        PluginActivity activity;
        activity.slot = index;
        activity.serial = serial;
        activity.pid = slot.pid.load(std::memory_order_acquire);
        activity.listener = slot.listener.load(std::memory_order_acquire);
        const auto hook = slot.hook.load(std::memory_order_acquire);
        if (activity.pid <= 0 || activity.listener < 0 || activity.listener >= listener_count ||
            hook > static_cast<std::uint32_t>(Hook::finish) || hook == 0)
            continue;
        activity.hook = static_cast<Hook>(hook);
        SocketAddress peer;
        peer.length = static_cast<socklen_t>(slot.load_peer(&peer.storage));
        activity.peer = format_address(peer);
        // A Unix peer's path is any bytes: only printable ASCII goes into a log line.
        std::replace_if(activity.peer.begin(), activity.peer.end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e; }, '?');
        activity.in_plugin = std::chrono::milliseconds(std::max<std::int64_t>(0, now_ms - since));
        // Released (and perhaps taken again) while it was read: these fields may mix two
        // requests, the next one's pid with this one's time. Not reported.
        // (The fields were read with acquire: this read cannot move before them.)
        if (slot.serial.load(std::memory_order_relaxed) != serial) continue;
        found.push_back(std::move(activity));
    }
    return found;
}

}  // namespace sockhost
