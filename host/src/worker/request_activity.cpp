#include <sockhost/host/worker/request_activity.hpp>

#include <sockhost/host/worker/request.hpp>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <functional>
#include <thread>

namespace sockhost {

namespace {

ActivityTable *installed_table = nullptr;
// getpid() is a system call: the pid is read once per process (again in a forked child).
pid_t own_pid = 0;

void note_own_pid() { own_pid = ::getpid(); }

// Threads start their search in different places, so they do not contend for slot 0.
thread_local std::size_t next_slot_hint = std::hash<std::thread::id>{}(std::this_thread::get_id()) % ActivityTable::kSlots;

// Set when a search found every slot taken, cleared when this process frees one: with more
// requests than slots (thousands of idle keep-alive connections), each new request would
// otherwise read all 512 slots of the shared table, cache miss after cache miss, to find
// none. Only this process (and its request children, whose slots it frees) takes slots in
// its table, so a free slot appears only after one of its own releases.
std::atomic<bool> table_seen_full{false};

ActivitySlot *take_slot(ActivityTable &table) {
    if (table_seen_full.load(std::memory_order_relaxed)) return nullptr;
    for (std::size_t tried = 0; tried < ActivityTable::kSlots; ++tried) {
        const std::size_t index = (next_slot_hint + tried) % ActivityTable::kSlots;
        ActivitySlot &slot = table.slots[index];
        std::uint32_t serial = slot.serial.load(std::memory_order_relaxed);
        if (serial % 2 != 0 || !slot.serial.compare_exchange_strong(serial, serial + 1, std::memory_order_acq_rel)) continue;
        next_slot_hint = index;
        std::uint32_t used = table.slots_used.load(std::memory_order_relaxed);
        while (used < index + 1 && !table.slots_used.compare_exchange_weak(used, static_cast<std::uint32_t>(index + 1))) {
        }
        return &slot;
    }
    table_seen_full.store(true, std::memory_order_relaxed);
    return nullptr;
}

// The next holder writes its fields only after it has made the serial odd, so a reader
// that sees the odd serial could otherwise still see this holder's time and pid: the
// time would report a request that is not in plugin code, and the pid would let
// release_activity_of free the new holder's slot for a dead child. Cleared before the
// releasing serial store, they read as zero until the new holder writes them.
void clear_before_release(ActivitySlot &slot) {
    slot.plugin_since_ms.store(0, std::memory_order_relaxed);
    slot.pid.store(0, std::memory_order_relaxed);
    slot.hook.store(0, std::memory_order_relaxed);
}

}  // namespace

void install_activity_table(ActivityTable *table) {
    installed_table = table;
    note_own_pid();
    static const int registered = ::pthread_atfork(nullptr, nullptr, note_own_pid);
    (void)registered;
}

std::string release_activity_of(pid_t child) {
    if (installed_table == nullptr) return {};
    std::string site;
    for (const auto &activity : activities_in_plugin_code(*installed_table, coarse_now_ms(), INT_MAX))
        if (activity.pid == child) site = " in " + std::string(hook_name(activity.hook)) + " for peer " + activity.peer;
    const std::size_t used = std::min<std::size_t>(installed_table->slots_used.load(), ActivityTable::kSlots);
    for (std::size_t index = 0; index < used; ++index) {
        ActivitySlot &slot = installed_table->slots[index];
        std::uint32_t serial = slot.serial.load(std::memory_order_acquire);
        if (serial % 2 == 0 || slot.pid.load(std::memory_order_relaxed) != child) continue;
        clear_before_release(slot);
        if (slot.serial.compare_exchange_strong(serial, serial + 1, std::memory_order_acq_rel))
            table_seen_full.store(false, std::memory_order_relaxed);
    }
    return site;
}

RequestActivity::RequestActivity(Request &request, int listener) : request_(request) {
    if (installed_table == nullptr || listener < 0) return;
    slot_ = take_slot(*installed_table);
    if (slot_ == nullptr) return;
    slot_->hook.store(static_cast<std::uint32_t>(Hook::none), std::memory_order_relaxed);
    slot_->plugin_since_ms.store(0, std::memory_order_relaxed);
    slot_->pid.store(own_pid, std::memory_order_relaxed);
    slot_->listener.store(listener, std::memory_order_relaxed);
    const SocketAddress &peer = request.peer();
    slot_->store_peer(&peer.storage, peer.length);
    request_.set_activity_slot(slot_);
}

RequestActivity::~RequestActivity() {
    if (slot_ == nullptr) return;
    request_.set_activity_slot(nullptr);
    clear_before_release(*slot_);
    slot_->serial.fetch_add(1, std::memory_order_release);
    table_seen_full.store(false, std::memory_order_relaxed);
}

void RequestActivity::enter(Hook hook) {
    // One coarse clock read serves both the stall warning of the loop and the supervisor.
    const auto now = hook == Hook::verify ? coarse_now() : request_.hooks().enter(hook);
    if (slot_ == nullptr) return;
    slot_->hook.store(static_cast<std::uint32_t>(hook), std::memory_order_relaxed);
    slot_->plugin_since_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count(),
                                 std::memory_order_release);
}

void RequestActivity::leave() {
    if (slot_ != nullptr) slot_->plugin_since_ms.store(0, std::memory_order_release);
}

}  // namespace sockhost
