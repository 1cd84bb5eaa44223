// Forks the forking mode's request children from one thread that lives as long as the
// process, so each child can be tied to the process's life by its parent-death signal.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not its process. A
// listener's loop thread ends when the stop begins, long before the drain does, so a child
// it forked would be killed at the wrong time; without the signal, a child outlives a
// worker killed by SIGKILL. The forker thread ends only when the process exits (or when
// the process-wide instance is destroyed at exit), which is exactly when the children must
// die. A worker killed by its supervisor's death takes its children with it the same way.
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sockhost {

class RequestForker {
public:
    // The process's forker, its thread started on first use.
    static Result<RequestForker *> for_this_process();

    ~RequestForker();
    RequestForker(const RequestForker &) = delete;
    RequestForker &operator=(const RequestForker &) = delete;

    // Forks a child that runs `in_child`, which must end the child (_exit) and never return.
    // The child gets SIGKILL when this process ends; one whose parent ended before it could
    // ask for that exits at once. Returns the child's pid, or why fork failed (strerror).
    Result<pid_t> fork_child(const std::function<void()> &in_child);

private:
    struct Job {
        const std::function<void()> *in_child;
        pid_t pid = -1;
        int error = 0;
        bool finished = false;
    };

    RequestForker();
    void run();

    pid_t owner_ = -1;  // the process whose thread this is (a child holds a copy)
    std::mutex mutex_;
    std::condition_variable changed_;
    Job *job_ = nullptr;  // the one fork asked for, until it has its pid
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace sockhost
