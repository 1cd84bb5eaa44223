#include <sockhost/host/worker/modes/event_loop.hpp>

#include <poll.h>
#include <sys/epoll.h>

#include <cerrno>

namespace sockhost {

Result<EventLoop> EventLoop::create() {
    UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_fd) return fail_errno("event loop: epoll_create1");
    return EventLoop(std::move(epoll_fd));
}

Result<void> EventLoop::add(int fd, std::uint32_t events, IoSlot &slot) {
    epoll_event event{};
    event.events = events | EPOLLET;
    event.data.ptr = &slot;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) return fail_errno("event loop: epoll_ctl add");
    slot.fd = fd;
    slot.registered = events;
    return {};
}

bool EventLoop::widen(IoSlot &slot, std::uint32_t events) {
    epoll_event event{};
    event.events = slot.registered | events | EPOLLET;
    event.data.ptr = &slot;
    // Edge-triggered: the modification reports the current state once, so a socket that is
    // already writable wakes its waiter at once.
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, slot.fd, &event) != 0) return false;
    slot.registered |= events;
    return true;
}

void EventLoop::remove(int fd) { ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

std::span<const epoll_event> EventLoop::poll(std::optional<Clock::time_point> extra_deadline) {
    int timeout_ms = -1;
    if (!ready_.empty() || !stopped_.empty()) {
        timeout_ms = 0;
    } else {
        std::optional<Clock::time_point> earliest = extra_deadline;
        if (!timers_.empty() && (!earliest || timers_.front()->deadline_ < *earliest))
            earliest = timers_.front()->deadline_;
        timeout_ms = poll_timeout_until(earliest);
    }
    int count = ::epoll_wait(epoll_fd_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (count < 0) count = 0;  // EINTR; nothing else can fail with a valid epoll fd
    if (!timers_.empty()) expire_timers(Clock::now());
    return {events_.data(), static_cast<std::size_t>(count)};
}

void EventLoop::wake_waiters(IoSlot &slot, std::uint32_t events) {
    const bool everyone = (events & (EPOLLERR | EPOLLHUP)) != 0;
    for (FiberWaiter *waiter = slot.first_waiter; waiter != nullptr;) {
        FiberWaiter *next = waiter->next_in_slot_;
        if (everyone || (waiter->events_ & events) != 0) wake(*waiter, WaitResult::ready);
        waiter = next;
    }
}

void EventLoop::cancel_all() {
    cancelled_ = true;
    while (first_waiting_ != nullptr) wake(*first_waiting_, WaitResult::cancelled);
}

void EventLoop::stop_idle_waits() {
    stopping_ = true;
    for (FiberWaiter *waiter = first_waiting_; waiter != nullptr;) {
        FiberWaiter *next = waiter->next_waiting_;
        if (waiter->idle_) wake(*waiter, WaitResult::stopping);
        waiter = next;
    }
}

void EventLoop::begin_wait(FiberWaiter &waiter, IoSlot *slot, std::optional<Clock::time_point> deadline) {
    waiter.waiting_ = true;
    waiter.slot_ = slot;
    if (slot != nullptr) {
        waiter.previous_in_slot_ = nullptr;
        waiter.next_in_slot_ = slot->first_waiter;
        if (slot->first_waiter != nullptr) slot->first_waiter->previous_in_slot_ = &waiter;
        slot->first_waiter = &waiter;
    }
    waiter.previous_waiting_ = nullptr;
    waiter.next_waiting_ = first_waiting_;
    if (first_waiting_ != nullptr) first_waiting_->previous_waiting_ = &waiter;
    first_waiting_ = &waiter;
    if (deadline) {
        waiter.deadline_ = *deadline;
        heap_push(waiter);
    }
}

void EventLoop::wake(FiberWaiter &waiter, WaitResult result) {
    if (!waiter.waiting_) return;
    waiter.waiting_ = false;
    waiter.result_ = result;
    if (IoSlot *slot = waiter.slot_) {
        if (waiter.previous_in_slot_ != nullptr) waiter.previous_in_slot_->next_in_slot_ = waiter.next_in_slot_;
        else slot->first_waiter = waiter.next_in_slot_;
        if (waiter.next_in_slot_ != nullptr) waiter.next_in_slot_->previous_in_slot_ = waiter.previous_in_slot_;
        waiter.slot_ = nullptr;
    }
    if (waiter.previous_waiting_ != nullptr) waiter.previous_waiting_->next_waiting_ = waiter.next_waiting_;
    else first_waiting_ = waiter.next_waiting_;
    if (waiter.next_waiting_ != nullptr) waiter.next_waiting_->previous_waiting_ = waiter.previous_waiting_;
    if (waiter.timer_index_ != FiberWaiter::kNoTimer) heap_erase(waiter);
    if (result == WaitResult::stopping) stopped_.push_back(&waiter);
    else ready_.push_back(&waiter);
}

void EventLoop::take_ready(std::vector<FiberWaiter *> &out) {
    out.clear();
    out.swap(ready_);
    for (std::size_t count = 0; count < kStoppedPerRound && !stopped_.empty(); ++count) {
        out.push_back(stopped_.front());
        stopped_.pop_front();
    }
}

void EventLoop::expire_timers(Clock::time_point now) {
    while (!timers_.empty() && timers_.front()->deadline_ <= now) wake(*timers_.front(), WaitResult::timed_out);
}

// --- timer heap ------------------------------------------------------------------------

void EventLoop::heap_place(std::size_t index, FiberWaiter *waiter) {
    timers_[index] = waiter;
    waiter->timer_index_ = index;
}

void EventLoop::heap_push(FiberWaiter &waiter) {
    timers_.push_back(&waiter);
    waiter.timer_index_ = timers_.size() - 1;
    sift_up(waiter.timer_index_);
}

void EventLoop::heap_erase(FiberWaiter &waiter) {
    const std::size_t index = waiter.timer_index_;
    waiter.timer_index_ = FiberWaiter::kNoTimer;
    FiberWaiter *last = timers_.back();
    timers_.pop_back();
    if (index == timers_.size()) return;  // it was the last
    heap_place(index, last);
    sift_up(index);
    sift_down(last->timer_index_);
}

void EventLoop::sift_up(std::size_t index) {
    FiberWaiter *moving = timers_[index];
    while (index > 0) {
        const std::size_t parent = (index - 1) / 2;
        if (!(moving->deadline_ < timers_[parent]->deadline_)) break;
        heap_place(index, timers_[parent]);
        index = parent;
    }
    heap_place(index, moving);
}

void EventLoop::sift_down(std::size_t index) {
    FiberWaiter *moving = timers_[index];
    const std::size_t size = timers_.size();
    for (;;) {
        std::size_t child = 2 * index + 1;
        if (child >= size) break;
        if (child + 1 < size && timers_[child + 1]->deadline_ < timers_[child]->deadline_) ++child;
        if (!(timers_[child]->deadline_ < moving->deadline_)) break;
        heap_place(index, timers_[child]);
        index = child;
    }
    heap_place(index, moving);
}

// --- fiber waiter ----------------------------------------------------------------------

WaitResult FiberWaiter::suspend_in_wait(IoSlot *slot, std::uint32_t events, std::optional<Clock::time_point> deadline,
                                        bool idle) {
    if (loop_.cancelled_) return WaitResult::cancelled;
    if (idle && loop_.stopping_) return WaitResult::stopping;
    if (slot != nullptr && (events & ~slot->registered) != 0 && !loop_.widen(*slot, events))
        return WaitResult::cancelled;  // ENOMEM: nothing sensible left but to end the request
    events_ = events;
    idle_ = idle;
    loop_.begin_wait(*this, slot, deadline);
    requests_without_wait_ = 0;
    fiber_.suspend();  // until EventLoop::wake
    return result_;
}

void FiberWaiter::between_requests() {
    if (++requests_without_wait_ < kRequestsPerTurn) return;
    requests_without_wait_ = 0;
    loop_.schedule(*this);
    fiber_.suspend();  // the next round runs it again, after those woken before
}

WaitResult FiberWaiter::wait_for(int fd, short events, std::optional<Clock::time_point> deadline, bool idle) {
    std::uint32_t wanted = 0;
    if ((events & POLLIN) != 0) wanted |= EPOLLIN;
    if ((events & POLLOUT) != 0) wanted |= EPOLLOUT;
    if (fd == connection_.fd) return suspend_in_wait(&connection_, wanted, deadline, idle);
    if (loop_.shared_slot_ != nullptr && fd == loop_.shared_slot_->fd)
        return suspend_in_wait(loop_.shared_slot_, wanted, deadline, idle);
    // A descriptor the loop does not know: registered for this one wait.
    IoSlot temporary;
    if (!loop_.add(fd, EPOLLIN | EPOLLOUT, temporary)) return WaitResult::cancelled;
    // It may have been ready before it was added: edge-triggered epoll reports that state
    // on the next epoll_wait, so the wait below cannot miss it.
    const WaitResult result = suspend_in_wait(&temporary, wanted, deadline, idle);
    loop_.remove(fd);
    return result;
}

WaitResult FiberWaiter::sleep_until(Clock::time_point wake_time) {
    const WaitResult result = suspend_in_wait(nullptr, 0, wake_time, false);
    return result == WaitResult::timed_out ? WaitResult::ready : result;
}

}  // namespace sockhost
