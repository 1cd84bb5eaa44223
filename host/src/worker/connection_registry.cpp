#include <sockhost/host/worker/connection_registry.hpp>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <unordered_set>

namespace sockhost {

namespace {

std::atomic<bool> enabled{false};

// Locked across every fork (pthread_atfork), so that no child copies the set half changed.
std::mutex &registry_mutex() {
    static std::mutex mutex;
    return mutex;
}

std::unordered_set<int> &registered() {
    static std::unordered_set<int> fds;
    return fds;
}

void lock_for_fork() { registry_mutex().lock(); }
void unlock_after_fork() { registry_mutex().unlock(); }

}  // namespace

void ConnectionRegistry::enable() {
    static std::once_flag installed;
    std::call_once(installed, [] { ::pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork); });
    enabled.store(true, std::memory_order_relaxed);
}

void ConnectionRegistry::add(int fd) {
    if (!enabled.load(std::memory_order_relaxed) || fd < 0) return;
    const std::lock_guard lock(registry_mutex());
    registered().insert(fd);
}

void ConnectionRegistry::remove(int fd) {
    if (!enabled.load(std::memory_order_relaxed) || fd < 0) return;
    const std::lock_guard lock(registry_mutex());
    registered().erase(fd);
}

void ConnectionRegistry::close_all_but(int keep) {
    if (!enabled.load(std::memory_order_relaxed)) return;
    const std::lock_guard lock(registry_mutex());
    for (const int fd : registered())
        if (fd != keep) ::close(fd);
    registered().clear();
    if (keep >= 0) registered().insert(keep);
}

}  // namespace sockhost
