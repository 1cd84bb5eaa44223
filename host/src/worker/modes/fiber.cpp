#include <sockhost/host/worker/modes/fiber.hpp>

#include <sockhost/host/shared/server_options.hpp>

#include <boost/context/preallocated.hpp>
#include <boost/context/stack_context.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

// The sanitizers follow the stack pointer; each switch to or from a fiber is announced to
// them, or ASan reports false stack overflows and TSan mixes up the fibers' histories.
#if defined(__SANITIZE_ADDRESS__)
#define SOCKHOST_FIBER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define SOCKHOST_FIBER_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(SOCKHOST_FIBER_ASAN)
#define SOCKHOST_FIBER_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(SOCKHOST_FIBER_TSAN)
#define SOCKHOST_FIBER_TSAN 1
#endif
#endif
#if defined(SOCKHOST_FIBER_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(SOCKHOST_FIBER_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace sockhost {

namespace {

namespace context = boost::context;

// The stack is the fiber's own mapping: Boost.Context must neither allocate nor free it.
struct MappedStackAllocator {
    context::stack_context allocate() { return {}; }  // never called with preallocated
    void deallocate(context::stack_context &) noexcept {}
};

// The fiber running on this thread, for the SIGSEGV report.
thread_local const FiberStack *running_stack = nullptr;

}  // namespace

// --- stacks ----------------------------------------------------------------------------

Result<FiberStack> FiberStack::map(std::size_t usable_size) {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t usable = (usable_size + page - 1) / page * page;
    const std::size_t total = usable + kGuardSize;
    // MAP_NORESERVE: untouched stack pages (and the guard) cost neither memory nor commit charge.
    void *mapping = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED) return fail_errno("fiber stack: mmap of " + std::to_string(total) + " bytes");
    if (::mprotect(mapping, kGuardSize, PROT_NONE) != 0) {
        const int error = errno;
        ::munmap(mapping, total);
        errno = error;
        return fail_errno("fiber stack: mprotect of the guard region");
    }
    return FiberStack(static_cast<char *>(mapping), total);
}

FiberStack::FiberStack(FiberStack &&other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)), mapping_size_(other.mapping_size_) {}

FiberStack::~FiberStack() {
    if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

bool FiberStack::overflow_reaches(const void *address) const {
    // A frame larger than what is left of the stack (a big local array) moves the stack
    // pointer past the guard region, and its first access may fault anywhere below it. The
    // reach is the largest stack a fiber may have (64 MiB): a frame that needs more than
    // any fiber could be given is implausible, and further away a fault is more likely a
    // stray pointer (a null one is far below every stack), not to be called an overflow.
    if (mapping_ == nullptr) return false;
    const auto fault = reinterpret_cast<std::uintptr_t>(address);
    const auto guard = reinterpret_cast<std::uintptr_t>(mapping_);
    const std::uintptr_t lowest = guard > kMaxFiberStackSize ? guard - kMaxFiberStackSize : 0;
    return fault >= lowest && fault < guard + kGuardSize;
}

// --- fibers ----------------------------------------------------------------------------

void Fiber::release_unused_stack() {
    // The frames in use are above this one; a page of margin covers what the calls below
    // (madvise itself, a signal frame) may touch right away. Reading the pages again
    // later gives zeroed ones, which a stack below its pointer is free to be.
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    char here = 0;
    const auto in_use = reinterpret_cast<std::uintptr_t>(&here) / page * page;
    const auto bottom = reinterpret_cast<std::uintptr_t>(stack_.bottom());
    if (in_use < bottom + 2 * page || in_use > reinterpret_cast<std::uintptr_t>(stack_.top())) return;
    ::madvise(stack_.bottom(), in_use - page - bottom, MADV_DONTNEED);
}

Fiber::Fiber(FiberStack stack) : stack_(std::move(stack)) {
#if defined(SOCKHOST_FIBER_TSAN)
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
}

Fiber::~Fiber() {
    if (context_) {  // parked in body(): let it return, which ends the context
        quitting_ = true;
        work_ = nullptr;
        resume();
    }
#if defined(SOCKHOST_FIBER_TSAN)
    __tsan_destroy_fiber(tsan_fiber_);
#endif
}

void Fiber::resume() {
    if (!context_) {
#if defined(SOCKHOST_FIBER_TSAN)
        // Creating the context briefly runs its entry function on the new stack. TSan counts
        // function entries and exits per fiber: counted as the loop's, the one entry that
        // never returns would unbalance the loop's count.
        void *creator = __tsan_get_current_fiber();
        __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
        // Created on first use; the context's record sits at the top of our stack.
        const context::stack_context whole{stack_.usable_size(), stack_.top()};
        context_ = context::fiber(std::allocator_arg, context::preallocated(stack_.top(), stack_.usable_size(), whole),
                                  MappedStackAllocator{},
                                  [this](context::fiber &&loop) { return body(std::move(loop)); });
#if defined(SOCKHOST_FIBER_TSAN)
        __tsan_switch_to_fiber(creator, 0);
#endif
    }
    const FiberStack *outer = std::exchange(running_stack, &stack_);
#if defined(SOCKHOST_FIBER_ASAN)
    __sanitizer_start_switch_fiber(&loop_fake_stack_, stack_.bottom(), stack_.usable_size());
#endif
#if defined(SOCKHOST_FIBER_TSAN)
    tsan_loop_ = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
    context_ = std::move(context_).resume();
#if defined(SOCKHOST_FIBER_ASAN)
    __sanitizer_finish_switch_fiber(loop_fake_stack_, nullptr, nullptr);
#endif
#if defined(SOCKHOST_FIBER_TSAN)
    // An ending fiber leaves TSan on its own fiber until its last frames have returned.
    if (!context_) __tsan_switch_to_fiber(tsan_loop_, 0);
#endif
    running_stack = outer;
}

void Fiber::suspend() { switch_to_loop(false); }

void Fiber::switch_to_loop(bool ending) {
#if defined(SOCKHOST_FIBER_ASAN)
    // An ending fiber passes no save slot: ASan then frees its fake stack.
    __sanitizer_start_switch_fiber(ending ? nullptr : &fake_stack_, loop_stack_bottom_, loop_stack_size_);
#endif
#if defined(SOCKHOST_FIBER_TSAN)
    // Not when ending: body() and the frames below it still return on this fiber, and
    // resume() switches TSan back to the loop once they have.
    if (!ending) __tsan_switch_to_fiber(tsan_loop_, 0);
#endif
    if (ending) return;  // body() returns the loop's context, which switches to it
    loop_ = std::move(loop_).resume();
#if defined(SOCKHOST_FIBER_ASAN)
    __sanitizer_finish_switch_fiber(fake_stack_, &loop_stack_bottom_, &loop_stack_size_);
#endif
}

context::fiber Fiber::body(context::fiber &&loop) {
    loop_ = std::move(loop);
#if defined(SOCKHOST_FIBER_ASAN)
    __sanitizer_finish_switch_fiber(nullptr, &loop_stack_bottom_, &loop_stack_size_);
#endif
    for (;;) {
        if (work_ != nullptr) {
            work_(argument_);  // noexcept by contract: the request lifecycle catches all
            work_ = nullptr;
        }
        if (quitting_) break;
        switch_to_loop(false);
        if (quitting_) break;
    }
    switch_to_loop(true);
    return std::move(loop_);
}

// --- overflow report -------------------------------------------------------------------

namespace {

#if !defined(SOCKHOST_FIBER_ASAN) && !defined(SOCKHOST_FIBER_TSAN)
char overflow_message[160];
std::size_t overflow_message_length = 0;
std::atomic<bool> overflow_handler_installed{false};

void report_overflow(int, siginfo_t *info, void *) {
    // SA_RESETHAND restored the default action: returning re-runs the faulting access,
    // and the process dies of SIGSEGV as without this handler.
    const FiberStack *stack = running_stack;
    if (stack != nullptr && stack->overflow_reaches(info->si_addr))
        (void)!::write(STDERR_FILENO, overflow_message, overflow_message_length);
}
#endif

}  // namespace

StackOverflowReport::StackOverflowReport([[maybe_unused]] std::size_t configured_stack_size) {
#if !defined(SOCKHOST_FIBER_ASAN) && !defined(SOCKHOST_FIBER_TSAN)
    alternate_size_ = 64 * 1024;  // above SIGSTKSZ; the handler only calls write(2)
    void *mapping = ::mmap(nullptr, alternate_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return;
    stack_t alternate{};
    alternate.ss_sp = mapping;
    alternate.ss_size = alternate_size_;
    if (::sigaltstack(&alternate, nullptr) != 0) {
        ::munmap(mapping, alternate_size_);
        return;
    }
    alternate_stack_ = mapping;
    if (overflow_handler_installed.exchange(true)) return;
    struct sigaction current {};
    if (::sigaction(SIGSEGV, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) return;
    overflow_message_length = static_cast<std::size_t>(std::snprintf(
        overflow_message, sizeof overflow_message,
        "sockhost: fatal: a request overflowed its fiber stack (fiber_stack_size %zu); exiting on SIGSEGV\n",
        configured_stack_size));
    overflow_message_length = std::min(overflow_message_length, sizeof overflow_message - 1);
    struct sigaction action {};
    action.sa_sigaction = report_overflow;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGSEGV, &action, nullptr);
#endif
}

StackOverflowReport::~StackOverflowReport() {
    if (alternate_stack_ == nullptr) return;
    stack_t disable{};
    disable.ss_flags = SS_DISABLE;
    ::sigaltstack(&disable, nullptr);
    ::munmap(alternate_stack_, alternate_size_);
}

}  // namespace sockhost
