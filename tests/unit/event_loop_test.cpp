// The event mode's loop in-process: real fibers, real sockets, the real timer heap.
// Fibers wait through FiberWaiter exactly as requests do; the test drives the loop.
#include <sockhost/host/worker/modes/event_loop.hpp>
#include <sockhost/host/worker/modes/fiber.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sockhost {
namespace {

// A few fibers on one loop, each running a std::function until it returns.
class FiberBench {
public:
    FiberBench() : loop_(std::move(*EventLoop::create())) {}

    FiberWaiter &start(std::function<void(FiberWaiter &)> body) {
        auto stack = FiberStack::map(64 * 1024);
        EXPECT_TRUE(stack) << stack.error().message;
        auto &entry = *entries_.emplace_back(std::make_unique<Entry>(loop_, std::move(*stack), std::move(body)));
        entry.fiber.assign(&Entry::run, &entry);
        loop_.schedule(entry.waiter);
        ++running_;
        return entry.waiter;
    }

    // Resumes whatever is ready, once; polls only if `poll` (nothing may be due otherwise).
    void round(bool poll = true) {
        std::vector<FiberWaiter *> ready;
        loop_.take_ready(ready);
        for (FiberWaiter *waiter : ready) {
            waiter->fiber().resume();
            if (waiter->fiber().parked()) --running_;
        }
        if (poll && running_ > 0) {
            for (const epoll_event &event : loop_.poll(std::nullopt))
                loop_.wake_waiters(*static_cast<IoSlot *>(event.data.ptr), event.events);
        }
    }

    void run_until_done() {
        while (running_ > 0) round();
    }

    EventLoop &loop() { return loop_; }
    int running() const { return running_; }

private:
    struct Entry {
        Entry(EventLoop &loop, FiberStack stack, std::function<void(FiberWaiter &)> function)
            : fiber(std::move(stack)), waiter(loop, fiber), body(std::move(function)) {}
        static void run(void *self) noexcept {
            auto &entry = *static_cast<Entry *>(self);
            entry.body(entry.waiter);
        }
        Fiber fiber;
        FiberWaiter waiter;
        std::function<void(FiberWaiter &)> body;
    };

    EventLoop loop_;
    std::vector<std::unique_ptr<Entry>> entries_;
    int running_ = 0;
};

struct SocketPair {
    SocketPair() {
        int fds[2] = {-1, -1};
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        ours = UniqueFd(fds[0]);
        theirs = UniqueFd(fds[1]);
    }
    UniqueFd ours;
    UniqueFd theirs;
};

TEST(EventLoop, SleepersWakeInDeadlineOrder) {
    FiberBench bench;
    std::vector<int> woken;
    std::vector<int> expected;
    for (int index = 0; index < 40; ++index) {
        const int milliseconds = (index * 17) % 40 * 5;  // 0..195, each once, shuffled
        expected.push_back(milliseconds);
        bench.start([&woken, milliseconds](FiberWaiter &waiter) {
            const auto result = waiter.sleep_until(Clock::now() + std::chrono::milliseconds(milliseconds));
            EXPECT_EQ(result, WaitResult::ready);
            woken.push_back(milliseconds);
        });
    }
    bench.run_until_done();
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(woken, expected);
}

TEST(EventLoop, ReadinessWakesTheWaiterAndItsTimerLeavesTheHeap) {
    FiberBench bench;
    SocketPair pair;
    WaitResult result = WaitResult::cancelled;
    bool slept = false;
    bench.start([&](FiberWaiter &waiter) {
        EXPECT_TRUE(bench.loop().add(pair.ours.get(), EPOLLIN, waiter.connection()));
        result = waiter.wait_for(pair.ours.get(), POLLIN, Clock::now() + std::chrono::hours(1), false);
        // The hour-long timer is gone: this short sleep is the earliest deadline.
        slept = waiter.sleep_until(Clock::now() + std::chrono::milliseconds(1)) == WaitResult::ready;
    });
    bench.round(false);  // the fiber waits now
    ASSERT_EQ(::send(pair.theirs.get(), "x", 1, 0), 1);
    bench.run_until_done();
    EXPECT_EQ(result, WaitResult::ready);
    EXPECT_TRUE(slept);
}

TEST(EventLoop, TimeoutEndsAWaitForASilentPeer) {
    FiberBench bench;
    SocketPair pair;
    WaitResult result = WaitResult::ready;
    bench.start([&](FiberWaiter &waiter) {
        EXPECT_TRUE(bench.loop().add(pair.ours.get(), EPOLLIN, waiter.connection()));
        result = waiter.wait_for(pair.ours.get(), POLLIN, Clock::now() + std::chrono::milliseconds(20), false);
    });
    bench.run_until_done();
    EXPECT_EQ(result, WaitResult::timed_out);
}

TEST(EventLoop, CancelEndsEveryWaitAndEveryLaterOne) {
    FiberBench bench;
    SocketPair pair;
    std::vector<WaitResult> results;
    for (int sleeper = 0; sleeper < 5; ++sleeper)
        bench.start([&](FiberWaiter &waiter) {
            results.push_back(waiter.sleep_until(Clock::now() + std::chrono::hours(1)));
            results.push_back(waiter.sleep_until(Clock::now() + std::chrono::hours(1)));
        });
    bench.start([&](FiberWaiter &waiter) {
        EXPECT_TRUE(bench.loop().add(pair.ours.get(), EPOLLIN, waiter.connection()));
        results.push_back(waiter.wait_for(pair.ours.get(), POLLIN, std::nullopt, false));
    });
    bench.round(false);
    ASSERT_EQ(bench.running(), 6);
    bench.loop().cancel_all();
    bench.run_until_done();  // would hang if a wait or a timer were left behind
    EXPECT_EQ(results, std::vector<WaitResult>(11, WaitResult::cancelled));
}

TEST(EventLoop, StopEndsOnlyIdleWaits) {
    FiberBench bench;
    SocketPair idle_pair;
    SocketPair busy_pair;
    WaitResult idle_result = WaitResult::ready;
    WaitResult busy_result = WaitResult::cancelled;
    bench.start([&](FiberWaiter &waiter) {
        EXPECT_TRUE(bench.loop().add(idle_pair.ours.get(), EPOLLIN, waiter.connection()));
        idle_result = waiter.wait_for(idle_pair.ours.get(), POLLIN, std::nullopt, true);
    });
    bench.start([&](FiberWaiter &waiter) {
        EXPECT_TRUE(bench.loop().add(busy_pair.ours.get(), EPOLLIN, waiter.connection()));
        busy_result = waiter.wait_for(busy_pair.ours.get(), POLLIN, std::nullopt, false);
    });
    bench.round(false);
    bench.loop().stop_idle_waits();
    bench.round(false);
    EXPECT_EQ(idle_result, WaitResult::stopping);
    EXPECT_EQ(bench.running(), 1) << "the request in progress still waits";
    ASSERT_EQ(::send(busy_pair.theirs.get(), "x", 1, 0), 1);
    bench.run_until_done();
    EXPECT_EQ(busy_result, WaitResult::ready);
}

TEST(EventLoop, AConnectionThatNeverWaitsTakesTurnsWithTheOthers) {
    // A pipelining client's requests are all there: its fiber would answer every one in a
    // single run while another connection's request waits for the loop.
    FiberBench bench;
    std::vector<char> order;
    bench.start([&](FiberWaiter &waiter) {
        for (int request = 0; request < 12; ++request) {
            order.push_back('P');
            waiter.between_requests();
        }
    });
    bench.start([&](FiberWaiter &) { order.push_back('o'); });
    bench.run_until_done();
    const std::string seen(order.begin(), order.end());
    const std::string turn(FiberWaiter::kRequestsPerTurn, 'P');
    EXPECT_EQ(seen.substr(0, turn.size() + 1), turn + "o") << seen;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 'P'), 12) << seen;
}

TEST(EventLoop, ARequestThatWaitsStartsAFreshTurn) {
    // The turn counts requests run back to back: one that waited for its next request has
    // given the loop back already, and is not sent to the back of the queue for it.
    FiberBench bench;
    SocketPair pair;
    constexpr unsigned kRequests = 3 * FiberWaiter::kRequestsPerTurn;
    unsigned waiting_for = 0;  // the request whose bytes the fiber waits for
    bench.start([&](FiberWaiter &waiter) {
        EXPECT_TRUE(bench.loop().add(pair.ours.get(), EPOLLIN, waiter.connection()));
        for (unsigned request = 1; request <= kRequests; ++request) {
            waiter.between_requests();
            waiting_for = request;
            char byte = 0;
            while (::recv(pair.ours.get(), &byte, 1, 0) != 1)
                ASSERT_EQ(waiter.wait_for(pair.ours.get(), POLLIN, Clock::now() + std::chrono::seconds(5), true),
                          WaitResult::ready);
        }
    });
    for (unsigned request = 1; request <= kRequests; ++request) {
        bench.round(false);
        EXPECT_EQ(waiting_for, request) << "the fiber went to the back of the queue instead of waiting";
        ASSERT_EQ(::send(pair.theirs.get(), "r", 1, 0), 1);
        bench.round(true);
    }
    bench.run_until_done();
}

TEST(EventLoop, AStopLetsIdleWaitsGoAFewPerRound) {
    // Thousands of idle connections end (or move) when a drain begins: a few per round, so
    // that a request that is running meanwhile is not held up by all of them at once.
    FiberBench bench;
    constexpr std::size_t kIdle = 3 * EventLoop::kStoppedPerRound + 1;
    std::vector<std::unique_ptr<SocketPair>> pairs;
    std::size_t ended = 0;
    for (std::size_t index = 0; index < kIdle; ++index) {
        auto &pair = *pairs.emplace_back(std::make_unique<SocketPair>());
        bench.start([&](FiberWaiter &waiter) {
            EXPECT_TRUE(bench.loop().add(pair.ours.get(), EPOLLIN, waiter.connection()));
            EXPECT_EQ(waiter.wait_for(pair.ours.get(), POLLIN, std::nullopt, true), WaitResult::stopping);
            ++ended;
        });
    }
    SocketPair busy;
    bool answered = false;
    bench.start([&](FiberWaiter &waiter) {
        EXPECT_TRUE(bench.loop().add(busy.ours.get(), EPOLLIN, waiter.connection()));
        EXPECT_EQ(waiter.wait_for(busy.ours.get(), POLLIN, std::nullopt, false), WaitResult::ready);
        answered = true;
    });
    bench.round(false);
    bench.loop().stop_idle_waits();
    ASSERT_EQ(::send(busy.theirs.get(), "x", 1, 0), 1);
    bench.round(true);  // the busy request's readiness is seen
    bench.round(false);
    EXPECT_TRUE(answered) << "the running request waited for the idle ones";
    EXPECT_LE(ended, 2 * EventLoop::kStoppedPerRound);
    bench.run_until_done();
    EXPECT_EQ(ended, kIdle);
}

TEST(EventLoop, AWriterWaitsForRoomAndIsWokenWhenThePeerReads) {
    FiberBench bench;
    SocketPair pair;
    std::size_t written = 0;
    int waits = 0;
    bench.start([&](FiberWaiter &waiter) {
        EXPECT_TRUE(bench.loop().add(pair.ours.get(), EPOLLIN, waiter.connection()));  // input only, as requests
        const std::string block(64 * 1024, 'x');
        while (written < 4 * 1024 * 1024) {
            const std::size_t chunk = std::min(block.size(), 4 * 1024 * 1024 - written);
            const ssize_t sent = ::send(pair.ours.get(), block.data(), chunk, MSG_DONTWAIT);
            if (sent > 0) {
                written += static_cast<std::size_t>(sent);
                continue;
            }
            ASSERT_EQ(errno, EAGAIN);
            ++waits;
            ASSERT_EQ(waiter.wait_for(pair.ours.get(), POLLOUT, Clock::now() + std::chrono::seconds(30), false),
                      WaitResult::ready);
        }
    });
    std::size_t read_total = 0;
    std::vector<char> buffer(256 * 1024);
    while (bench.running() > 0) {
        bench.round(false);
        const ssize_t count = ::recv(pair.theirs.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (count > 0) read_total += static_cast<std::size_t>(count);
        if (bench.running() > 0) {
            for (const epoll_event &event : bench.loop().poll(Clock::now() + std::chrono::milliseconds(10)))
                bench.loop().wake_waiters(*static_cast<IoSlot *>(event.data.ptr), event.events);
        }
    }
    EXPECT_EQ(written, 4u * 1024 * 1024);
    for (ssize_t count; (count = ::recv(pair.theirs.get(), buffer.data(), buffer.size(), MSG_DONTWAIT)) > 0;)
        read_total += static_cast<std::size_t>(count);
    EXPECT_EQ(read_total, written);
    EXPECT_GT(waits, 0) << "the socket's buffer filled, so the writer had to wait";
}

}  // namespace
}  // namespace sockhost
