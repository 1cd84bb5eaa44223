// Sole owner of one forked child: its pid and a pidfd to poll for its exit. A child that
// is still running when its owner goes is killed and reaped, so none outlives the server.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <sys/types.h>

#include <optional>

namespace sockhost {

class ChildProcess {
public:
    // Takes ownership of the freshly forked `pid`.
    static Result<ChildProcess> adopt(pid_t pid);

    ChildProcess() = default;  // none: pid() is -1

    ChildProcess(ChildProcess &&other) noexcept;
    ChildProcess &operator=(ChildProcess &&other) noexcept;
    ~ChildProcess();

    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }  // readable when the child has exited

    // Reaps the child if it has exited; returns its wait status then.
    // Whether it has exited, without reaping it: its pid stays its own until try_reap.
    bool has_exited() const;
    std::optional<int> try_reap();
    void signal(int signal_number) const;

private:
    ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
    void kill_and_reap();

    pid_t pid_ = -1;  // -1 once reaped or moved from
    UniqueFd pidfd_;
};

// "exited with status 3", "killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);

}  // namespace sockhost
