// A fiber: a request's own small stack and execution context on the event loop's thread.
// Built on Boost.Context (fcontext: a switch is a few register moves, no system call).
// Each stack is an mmap with a PROT_NONE guard region below it, so an overflow is a clean
// SIGSEGV instead of corrupting a neighbour. A fiber is reused for request after request
// (the event mode keeps a pool), so its stack is mapped once.
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <boost/context/fiber.hpp>

#include <cstddef>
#include <memory>

namespace sockhost {

// [guard region][usable stack ...] in one private anonymous mapping. The guard is 2 MiB
// of address space (no memory): a frame that jumps far past the stack's end (a big local
// array) still faults in it, whatever the kernel happened to map below the stack.
class FiberStack {
public:
    static constexpr std::size_t kGuardSize = 2 * 1024 * 1024;

    // `usable_size` is rounded up to whole pages.
    static Result<FiberStack> map(std::size_t usable_size);

    FiberStack(FiberStack &&other) noexcept;
    FiberStack &operator=(FiberStack &&) = delete;
    FiberStack(const FiberStack &) = delete;
    ~FiberStack();

    char *bottom() const { return mapping_ + kGuardSize; }  // lowest usable address
    char *top() const { return mapping_ + mapping_size_; }
    std::size_t usable_size() const { return mapping_size_ - kGuardSize; }
    // Whether a fault at `address` is this stack overflowing: in the guard region, or below it
    // within kMaxFiberStackSize (one large frame jumps over the guard region).
    bool overflow_reaches(const void *address) const;

private:
    FiberStack(char *mapping, std::size_t mapping_size) : mapping_(mapping), mapping_size_(mapping_size) {}

    char *mapping_;
    std::size_t mapping_size_;
};

class Fiber {
public:
    using Work = void (*)(void *argument);

    explicit Fiber(FiberStack stack);
    Fiber(const Fiber &) = delete;
    Fiber &operator=(const Fiber &) = delete;
    ~Fiber();  // a parked fiber's context is ended; must not be called while it runs

    // From the loop: the next resume() runs work(argument) on this fiber.
    void assign(Work work, void *argument) {
        work_ = work;
        argument_ = argument;
    }
    // From the loop: runs the fiber until it suspends or its work returns.
    void resume();
    // From inside the fiber: back to the loop, until the loop resumes it again.
    void suspend();
    // The work has returned (or none was assigned): the fiber may take another.
    bool parked() const { return work_ == nullptr; }
    // From inside the fiber: gives the pages of its stack below the caller's frames back
    // to the kernel, after a deep call (a TLS handshake) that an idle connection does not
    // need to keep touched for the rest of its life.
    void release_unused_stack();

private:
    boost::context::fiber body(boost::context::fiber &&loop);
    void switch_to_loop(bool ending);

    FiberStack stack_;
    boost::context::fiber context_;  // the fiber, while it does not run
    boost::context::fiber loop_;     // the loop, while the fiber runs
    Work work_ = nullptr;
    void *argument_ = nullptr;
    bool quitting_ = false;
    // Sanitizer bookkeeping (unused in plain builds): see fiber.cpp.
    void *fake_stack_ = nullptr;
    void *loop_fake_stack_ = nullptr;
    const void *loop_stack_bottom_ = nullptr;
    std::size_t loop_stack_size_ = 0;
    void *tsan_fiber_ = nullptr;
    void *tsan_loop_ = nullptr;
};

// While alive on a thread that runs fibers: a SIGSEGV on the running fiber's guard region,
// or below it within reach of one large frame (FiberStack::overflow_reaches), is reported
// on stderr ("fiber stack overflow ...") on an alternate signal stack, then the process
// dies of SIGSEGV as it would without it. Installs nothing under a sanitizer (which
// reports overflows itself) or when the process already has its own SIGSEGV handler.
class StackOverflowReport {
public:
    explicit StackOverflowReport(std::size_t configured_stack_size);
    StackOverflowReport(const StackOverflowReport &) = delete;
    StackOverflowReport &operator=(const StackOverflowReport &) = delete;
    ~StackOverflowReport();

private:
    void *alternate_stack_ = nullptr;
    std::size_t alternate_size_ = 0;
};

}  // namespace sockhost
