#include <sockhost/host/worker/connection_handoff.hpp>

#include <sockhost/host/shared/worker_metrics.hpp>
#include <sockhost/host/worker/request_metrics.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace sockhost {

// Every live ConnectionHandoff of the process, for the fork handlers: before a fork each
// queue is locked (so no child copies one half changed), and in the child each queue and
// parked set is emptied, closing its copies of the connections and reply sockets. Never
// EPOLL_CTL_DEL there: the child shares the parent's epoll set, and would empty it.
struct ForkSafety {
    static std::mutex &registry_mutex() {
        static std::mutex mutex;
        return mutex;
    }
    static std::vector<ConnectionHandoff *> &registry() {
        static std::vector<ConnectionHandoff *> live;
        return live;
    }
    static void before_fork() {
        registry_mutex().lock();
        for (ConnectionHandoff *handoff : registry()) handoff->mutex_.lock();
    }
    static void in_parent() {
        for (ConnectionHandoff *handoff : registry()) handoff->mutex_.unlock();
        registry_mutex().unlock();
    }
    static void in_child() {
        for (ConnectionHandoff *handoff : registry()) {
            handoff->queued_.clear();
            handoff->queued_count_.store(0, std::memory_order_relaxed);
            handoff->parked_.clear();
            handoff->expiry_.clear();
            handoff->parked_epoll_.reset();
            handoff->mutex_.unlock();
        }
        registry_mutex().unlock();
    }
    static void add(ConnectionHandoff *handoff) {
        static std::once_flag installed;
        std::call_once(installed, [] { ::pthread_atfork(before_fork, in_parent, in_child); });
        const std::lock_guard lock(registry_mutex());
        registry().push_back(handoff);
    }
    static void remove(ConnectionHandoff *handoff) {
        const std::lock_guard lock(registry_mutex());
        std::erase(registry(), handoff);
    }
};

std::unique_lock<std::mutex> ConnectionHandoff::hold_off_forks() {
    return std::unique_lock(ForkSafety::registry_mutex());  // before_fork takes it first
}

ConnectionHandoff::ConnectionHandoff(const HandoffChannel &channel, int listener_index, bool enabled,
                                     UniqueFd reload_fd, UniqueFd queue_fd, UniqueFd parked_epoll,
                                     std::chrono::milliseconds idle_timeout)
    : channel_(channel), listener_index_(listener_index), enabled_(enabled), reload_fd_(std::move(reload_fd)),
      queue_fd_(std::move(queue_fd)), parked_epoll_(std::move(parked_epoll)), counters_(listener_counters(listener_index)),
      idle_timeout_(idle_timeout) {
    ForkSafety::add(this);
}

ConnectionHandoff::~ConnectionHandoff() { ForkSafety::remove(this); }

Result<std::unique_ptr<ConnectionHandoff>> ConnectionHandoff::create(const HandoffChannel &channel, int listener_index,
                                                                     bool enabled,
                                                                     std::chrono::milliseconds idle_timeout) {
    UniqueFd reload_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    UniqueFd queue_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE));
    if (!reload_fd || !queue_fd) return fail_errno("handoff: eventfd");
    UniqueFd parked_epoll(::epoll_create1(EPOLL_CLOEXEC));
    if (!parked_epoll) return fail_errno("handoff: epoll_create1 for parked connections");
    return std::unique_ptr<ConnectionHandoff>(new ConnectionHandoff(channel, listener_index,
                                                                    enabled && channel.open(), std::move(reload_fd),
                                                                    std::move(queue_fd), std::move(parked_epoll),
                                                                    idle_timeout));
}

void ConnectionHandoff::begin_reload_drain() { ::eventfd_write(reload_fd_.get(), 1); }

bool ConnectionHandoff::reload_draining() const {
    pollfd set{reload_fd_.get(), POLLIN, 0};
    return ::poll(&set, 1, 0) > 0 && (set.revents & POLLIN) != 0;
}

ConnectionHandoff::Offered ConnectionHandoff::offer(int connection_fd, std::string_view unread,
                                                    std::string_view connection_state, IoWaiter &waiter) {
    if (!enabled_ || unread.size() > HandoffChannel::kMaxUnread) return Offered::close;
    // A socket, not a pipe: whoever answers sends without ever blocking (answer_offer).
    int pipe_fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pipe_fds) != 0) return Offered::not_taken;
    UniqueFd reply_read(pipe_fds[0]);
    HandoffMessage message;
    message.type = HandoffType::offer;
    message.listener = static_cast<std::uint32_t>(listener_index_);
    message.unread.assign(unread);
    message.connection_state.assign(connection_state);
    message.fds.emplace_back(::fcntl(connection_fd, F_DUPFD_CLOEXEC, 0));
    message.fds.emplace_back(pipe_fds[1]);
    if (!message.fds[0]) return Offered::not_taken;
    // Never blocks the thread: in the event mode one blocked send would stall every request
    // of the loop. A full channel (the supervisor relays a burst) is waited out by this
    // request alone.
    for (;;) {
        const auto sent = channel_.send(message, false);
        if (sent == HandoffChannel::SendResult::sent) break;
        if (sent == HandoffChannel::SendResult::failed) return Offered::not_taken;
        if (waiter.sleep_until(Clock::now() + std::chrono::milliseconds(5)) == WaitResult::cancelled)
            return Offered::not_taken;
    }
    message.fds.clear();  // the copies in flight are the supervisor's now; ours must go
    for (;;) {
        // No deadline: the taker may hold it queued while its loop is busy. The drain's
        // cancellation ends the wait.
        const WaitResult result = waiter.wait_for(reply_read.get(), POLLIN, std::nullopt, false);
        if (result == WaitResult::cancelled) return Offered::taken;
        if (result != WaitResult::ready) continue;
        char answer = 0;
        const ssize_t count = ::read(reply_read.get(), &answer, 1);
        if (count < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        // One shutdown() of the reply's write side is as good as every copy closing.
        if (count == 1 && answer == kTakenByte) return Offered::taken;
        if (count == 1 && answer == kCloseByte) return Offered::close;
        return Offered::not_taken;  // every write end closed without an answer
    }
}

void ConnectionHandoff::count_open(std::int64_t change) const {
    if (counters_ != nullptr && change != 0) counters_->connections_open.fetch_add(change, std::memory_order_relaxed);
}

void ConnectionHandoff::refuse_from_now() {
    std::deque<HandedOverConnection> refused;
    const std::lock_guard lock(mutex_);
    refusing_ = true;
    refused.swap(queued_);
    queued_count_.store(0, std::memory_order_relaxed);
    // Nothing is queued now: a stopping loop must not see its queue readable for ever.
    for (eventfd_t count = 0; ::eventfd_read(queue_fd_.get(), &count) == 0;) {
    }
    // Ours already (the client spoke after it was parked; the loop had not taken it yet):
    // held with the parked ones, for take_held or close_held.
    for (auto &connection : refused)
        if (connection.held) {
            const int fd = connection.connection.get();
            parked_.emplace(fd, ParkedConnection{std::move(connection.connection), std::move(connection.connection_state)});
        }
}

void ConnectionHandoff::push_queued(HandedOverConnection connection) {
    queued_.push_back(std::move(connection));
    queued_count_.fetch_add(1, std::memory_order_release);
    ::eventfd_write(queue_fd_.get(), 1);
}

void ConnectionHandoff::park(ParkedConnection connection) {
    const int fd = connection.connection.get();
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.fd = fd;
    if (::epoll_ctl(parked_epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
        // Cannot be watched (out of memory): the loop serves it as a request at once.
        push_queued({std::move(connection.connection), {}, {}, std::move(connection.connection_state), true});
        return;
    }
    connection.since = Clock::now();
    if (idle_timeout_.count() > 0) expiry_.emplace_back(connection.since, fd);
    parked_.emplace(fd, std::move(connection));
}

std::optional<Clock::time_point> ConnectionHandoff::next_idle_expiry() {
    const std::lock_guard lock(mutex_);
    while (!expiry_.empty()) {
        const auto found = parked_.find(expiry_.front().second);
        if (found != parked_.end() && found->second.since == expiry_.front().first)
            return expiry_.front().first + idle_timeout_;
        expiry_.pop_front();  // it left the parked set
    }
    return std::nullopt;
}

void ConnectionHandoff::close_idle_expired(Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    while (!expiry_.empty() && expiry_.front().first + idle_timeout_ <= now) {
        const auto [since, fd] = expiry_.front();
        expiry_.pop_front();
        const auto found = parked_.find(fd);
        if (found == parked_.end() || found->second.since != since) continue;
        ::epoll_ctl(parked_epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        parked_.erase(found);  // closes it: no other process holds it now
        count_open(-1);
    }
}

void ConnectionHandoff::queue(HandedOverConnection connection) {
    const std::lock_guard lock(mutex_);
    if (refusing_) return;  // stopping: dropping it answers its offerer
    if (!connection.unread.empty()) {
        push_queued(std::move(connection));  // answered when the loop takes it
        return;
    }
    answer_offer(connection.reply.get(), kTakenByte);
    connection.reply.reset();
    count_open(1);
    // A busy client's next request is often here already: straight to the loop, without
    // a round through the parked set and this thread.
    char byte = 0;
    if (::recv(connection.connection.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) {
        push_queued({std::move(connection.connection), {}, {}, std::move(connection.connection_state), true});
        return;
    }
    park({std::move(connection.connection), std::move(connection.connection_state)});
}

bool ConnectionHandoff::park_batch(std::vector<ParkedConnection> connections) {
    const std::lock_guard lock(mutex_);
    if (refusing_) return false;
    count_open(static_cast<std::int64_t>(connections.size()));
    for (auto &connection : connections) park(std::move(connection));
    return true;
}

void ConnectionHandoff::wake_parked() {
    epoll_event events[HandoffChannel::kMaxBatch];
    for (;;) {
        const int count = ::epoll_wait(parked_epoll_.get(), events, std::size(events), 0);
        if (count <= 0) return;
        const std::lock_guard lock(mutex_);
        for (int index = 0; index < count; ++index) {
            const int fd = events[index].data.fd;
            ::epoll_ctl(parked_epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
            const auto found = parked_.find(fd);
            if (found == parked_.end()) continue;
            push_queued({std::move(found->second.connection), {}, {}, std::move(found->second.connection_state), true});
            parked_.erase(found);
        }
        if (static_cast<std::size_t>(count) < std::size(events)) return;
    }
}

std::size_t ConnectionHandoff::parked() const {
    const std::lock_guard lock(mutex_);
    return parked_.size();
}

std::vector<ParkedConnection> ConnectionHandoff::take_held() {
    std::vector<ParkedConnection> held;
    const std::lock_guard lock(mutex_);
    held.reserve(parked_.size());
    for (auto &[fd, connection] : parked_) held.push_back(std::move(connection));
    parked_.clear();
    expiry_.clear();
    // Before the descriptors leave: a registration outlives our close while the next
    // generation holds the same socket. Closing the set drops them all in one call, not
    // one EPOLL_CTL_DEL each (10,000 system calls for 10,000 idle clients). Only called
    // after refuse_from_now: nothing is registered in the set from then.
    parked_epoll_.reset();
    return held;
}

void ConnectionHandoff::forget(std::size_t count) { count_open(-static_cast<std::int64_t>(count)); }

void ConnectionHandoff::close_held() { forget(take_held().size()); }

std::optional<HandedOverConnection> ConnectionHandoff::take_handed_over() {
    if (queued_count_.load(std::memory_order_acquire) == 0) return std::nullopt;
    eventfd_t one = 0;
    if (::eventfd_read(queue_fd_.get(), &one) != 0) return std::nullopt;
    const std::lock_guard lock(mutex_);
    if (queued_.empty()) return std::nullopt;
    HandedOverConnection connection = std::move(queued_.front());
    queued_.pop_front();
    queued_count_.fetch_sub(1, std::memory_order_relaxed);
    return connection;
}

}  // namespace sockhost
