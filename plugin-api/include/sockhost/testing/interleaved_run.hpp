// Event mode's semantics in a unit test: several requests of one instance on one thread,
// each on its own fiber, switching only where a host call waits (a read for a later turn
// of Input::turns, sleep_ms), in virtual time. So a test sees what event mode does to a
// plugin: state changed by another request across a host call, and one thread_local for
// all of them.
#ifndef SOCKHOST_TESTING_INTERLEAVED_RUN_HPP
#define SOCKHOST_TESTING_INTERLEAVED_RUN_HPP

#include <sockhost/testing/instance.hpp>

#include <ucontext.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// Fiber switches are announced to the sanitizers, which would otherwise take the other
// stack for a corrupted one (ASan) or miss the happens-before of a switch (TSan).
#if defined(__SANITIZE_ADDRESS__)
#define SOCKHOST_TESTING_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOCKHOST_TESTING_ASAN_FIBERS 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SOCKHOST_TESTING_TSAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SOCKHOST_TESTING_TSAN_FIBERS 1
#endif
#endif
#if defined(SOCKHOST_TESTING_ASAN_FIBERS)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
#include <sanitizer/tsan_interface.h>
#endif

namespace sockhost::sdk::testing {

namespace detail {

// The fibers of one serve_interleaved call, and the clock they share. The scheduler (the
// calling thread's own stack) resumes the fiber whose wait ends first, ties in the order
// they began to wait (at first, input order); a fiber runs until it waits or ends.
class FiberScheduler {
public:
    static constexpr std::size_t kStackBytes = 1024 * 1024;  // plenty, and only touched pages cost

    explicit FiberScheduler(std::size_t count) : fibers_(count) {}

    template <typename Body>
    void run(Body &&body) {
        body_ = [&body](std::size_t index) { body(index); };
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
        scheduler_tsan_ = __tsan_get_current_fiber();
#endif
        for (std::size_t index = 0; index < fibers_.size(); ++index) start(index);
        for (;;) {
            Fiber *next = nullptr;
            for (Fiber &fiber : fibers_)
                if (!fiber.done && (next == nullptr || fiber.wake_ms < next->wake_ms ||
                                    (fiber.wake_ms == next->wake_ms && fiber.order < next->order)))
                    next = &fiber;
            if (next == nullptr) break;
            if (next->wake_ms > now_ms_) now_ms_ = next->wake_ms;
            resume(*next);
        }
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
        for (Fiber &fiber : fibers_) __tsan_destroy_fiber(fiber.tsan);
#endif
    }

    // The clock of one fiber's request: waiting suspends the fiber until the shared time
    // reaches `ms`.
    class FiberClock final : public VirtualClock {
    public:
        FiberClock(FiberScheduler &scheduler, std::size_t index) : scheduler_(scheduler), index_(index) {}
        std::uint64_t now_ms() const override { return scheduler_.now_ms_; }
        void wait_until(std::uint64_t ms) override { scheduler_.suspend(index_, ms); }

    private:
        FiberScheduler &scheduler_;
        std::size_t index_;
    };

private:
    struct Fiber {
        ucontext_t context{};
        std::unique_ptr<char[]> stack;
        std::uint64_t wake_ms = 0;
        std::uint64_t order = 0;  // when it began to wait: ties are resumed first come, first served
        bool done = false;
        std::vector<LogLine> *log = nullptr;  // its current_log while it is switched out
#if defined(SOCKHOST_TESTING_ASAN_FIBERS)
        void *fake_stack = nullptr;
#endif
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
        void *tsan = nullptr;
#endif
    };

    void start(std::size_t index) {
        Fiber &fiber = fibers_[index];
        fiber.stack = std::make_unique<char[]>(kStackBytes);
        if (::getcontext(&fiber.context) != 0)
            throw std::runtime_error(std::string("serve_interleaved: getcontext: ") + std::strerror(errno));
        fiber.context.uc_stack.ss_sp = fiber.stack.get();
        fiber.context.uc_stack.ss_size = kStackBytes;
        fiber.context.uc_link = &scheduler_context_;
        fiber.order = next_order_++;
        // makecontext passes ints: the scheduler's address goes in two halves.
        const auto address = reinterpret_cast<std::uintptr_t>(this);
        ::makecontext(&fiber.context, reinterpret_cast<void (*)()>(&FiberScheduler::entry), 3,
                      static_cast<unsigned>(address >> 32), static_cast<unsigned>(address & 0xffffffffu),
                      static_cast<unsigned>(index));
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
        fiber.tsan = __tsan_create_fiber(0);
#endif
    }

    static void entry(unsigned high, unsigned low, unsigned index) {
        auto *self = reinterpret_cast<FiberScheduler *>((static_cast<std::uintptr_t>(high) << 32) | low);
        self->arrived(nullptr);
        current_log = nullptr;
        self->body_(index);
        Fiber &fiber = self->fibers_[index];
        fiber.done = true;
        // The last switch away from this stack, inside swapcontext: returning instead (to
        // uc_link) would run this function's sanitizer epilogue on the scheduler's stack.
#if defined(SOCKHOST_TESTING_ASAN_FIBERS)
        __sanitizer_start_switch_fiber(nullptr, self->scheduler_stack_bottom_, self->scheduler_stack_size_);
#endif
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
        __tsan_switch_to_fiber(self->scheduler_tsan_, 0);
#endif
        ::swapcontext(&fiber.context, &self->scheduler_context_);
        std::abort();  // a done fiber is never resumed
    }

    void resume(Fiber &fiber) {
        std::vector<LogLine> *scheduler_log = current_log;
        current_log = fiber.log;
#if defined(SOCKHOST_TESTING_ASAN_FIBERS)
        void *fake_stack = nullptr;
        __sanitizer_start_switch_fiber(&fake_stack, fiber.stack.get(), kStackBytes);
#endif
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
        __tsan_switch_to_fiber(fiber.tsan, 0);
#endif
        ::swapcontext(&scheduler_context_, &fiber.context);
#if defined(SOCKHOST_TESTING_ASAN_FIBERS)
        __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
        current_log = scheduler_log;
    }

    void suspend(std::size_t index, std::uint64_t ms) {
        Fiber &fiber = fibers_[index];
        fiber.wake_ms = ms > now_ms_ ? ms : now_ms_;
        fiber.order = next_order_++;
        fiber.log = current_log;
#if defined(SOCKHOST_TESTING_ASAN_FIBERS)
        __sanitizer_start_switch_fiber(&fiber.fake_stack, scheduler_stack_bottom_, scheduler_stack_size_);
#endif
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
        __tsan_switch_to_fiber(scheduler_tsan_, 0);
#endif
        ::swapcontext(&fiber.context, &scheduler_context_);
        arrived(fiber_fake_stack(fiber));
        current_log = fiber.log;
    }

    // On a fiber's stack, just switched to: ASan learns where the scheduler's stack is.
#if defined(SOCKHOST_TESTING_ASAN_FIBERS)
    static void *fiber_fake_stack(Fiber &fiber) { return fiber.fake_stack; }
    void arrived(void *fake_stack) {
        __sanitizer_finish_switch_fiber(fake_stack, &scheduler_stack_bottom_, &scheduler_stack_size_);
    }
    const void *scheduler_stack_bottom_ = nullptr;
    std::size_t scheduler_stack_size_ = 0;
#else
    static void *fiber_fake_stack(Fiber &) { return nullptr; }
    void arrived(void *) {}
#endif

    std::vector<Fiber> fibers_;
    ucontext_t scheduler_context_{};
    std::uint64_t now_ms_ = 0;
    std::uint64_t next_order_ = 0;
    std::function<void(std::size_t)> body_;
#if defined(SOCKHOST_TESTING_TSAN_FIBERS)
    void *scheduler_tsan_ = nullptr;
#endif
};

}  // namespace detail

// The requests as one event-mode listener serves them at once: each on its own fiber of
// this thread, verify to finish, interleaved where a host call waits (virtual time: a read
// for a later turn, a sleep_ms), the first to be due resumed first. Results in input
// order; each one's output_at and elapsed_ms are on the shared clock. Throws
// std::logic_error as Instance::serve does.
inline std::vector<RequestResult> serve_interleaved(const Instance &instance, const std::vector<Input> &inputs) {
    for (const Input &input : inputs) detail::InstanceAccess::check_servable(instance, input);
    std::vector<RequestResult> results(inputs.size());
    detail::FiberScheduler scheduler(inputs.size());
    std::vector<std::unique_ptr<detail::FiberScheduler::FiberClock>> clocks;
    for (std::size_t index = 0; index < inputs.size(); ++index)
        clocks.push_back(std::make_unique<detail::FiberScheduler::FiberClock>(scheduler, index));
    scheduler.run([&](std::size_t index) {
        RequestResult &result = results[index];
        detail::FakeRequest request;
        detail::start_request(request, inputs[index], result, *clocks[index]);
        {
            const detail::LogTo log_here(&result.log);
            detail::InstanceAccess::run_hooks(instance, request, result);
            detail::release_user_data(request);
        }
        result.elapsed_ms = clocks[index]->now_ms();
    });
    return results;
}

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_INTERLEAVED_RUN_HPP
