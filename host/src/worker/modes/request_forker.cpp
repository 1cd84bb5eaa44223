#include <sockhost/host/worker/modes/request_forker.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

namespace sockhost {

namespace {

// In the child, first thing: tie it to the parent's life. The parent may have died
// between fork and prctl, before the signal was armed: then the child was already
// reparented, and it ends itself.
void die_with_parent(pid_t parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(1);
}

}  // namespace

Result<RequestForker *> RequestForker::for_this_process() {
    static std::mutex creating;
    // Destroyed at exit, after every server (and so every child) is gone.
    static std::unique_ptr<RequestForker> forker;
    const std::lock_guard lock(creating);
    if (!forker) {
        try {
            forker.reset(new RequestForker());
        } catch (const std::system_error &error) {
            return fail(std::string("cannot start the request forker thread: ") + error.what());
        }
    }
    return forker.get();
}

RequestForker::RequestForker() : owner_(::getpid()), thread_([this] { run(); }) {}

RequestForker::~RequestForker() {
    // In a request child (a plugin that calls exit()) the thread is the caller itself.
    if (::getpid() != owner_) {
        thread_.detach();
        return;
    }
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

Result<pid_t> RequestForker::fork_child(const std::function<void()> &in_child) {
    Job job{&in_child};
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return job_ == nullptr; });  // one fork at a time
    job_ = &job;
    changed_.notify_all();
    changed_.wait(lock, [&] { return job.finished; });
    if (job.pid < 0) return fail(std::strerror(job.error));  // the reason alone: callers say what failed
    return job.pid;
}

void RequestForker::run() {
    // Signals go to the threads that wait for them, never to this one.
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [&] { return job_ != nullptr || stopping_; });
        if (job_ == nullptr) return;
        Job &job = *job_;
        lock.unlock();  // not held across fork: the child never needs it, the callers do
        const pid_t parent = ::getpid();
        const pid_t pid = ::fork();
        if (pid == 0) {
            die_with_parent(parent);
            (*job.in_child)();
            ::_exit(1);  // in_child ends the child itself; this is only a backstop
        }
        const int error = errno;
        lock.lock();
        job.pid = pid;
        job.error = error;
        job.finished = true;
        job_ = nullptr;
        changed_.notify_all();
    }
}

}  // namespace sockhost
