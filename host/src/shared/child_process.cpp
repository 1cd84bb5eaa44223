#include <sockhost/host/shared/child_process.hpp>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <utility>

namespace sockhost {

Result<ChildProcess> ChildProcess::adopt(pid_t pid) {
    // The raw syscall: glibc 2.36's <sys/pidfd.h> lacks C++ linkage guards.
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) {
        const int error = errno;
        ChildProcess unwatched(pid, UniqueFd());  // still reaped by its destructor
        return fail_errno("pidfd_open for child " + std::to_string(pid), error);
    }
    ::fcntl(pidfd.get(), F_SETFD, FD_CLOEXEC);
    return ChildProcess(pid, std::move(pidfd));
}

ChildProcess::ChildProcess(ChildProcess &&other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}

ChildProcess &ChildProcess::operator=(ChildProcess &&other) noexcept {
    if (this != &other) {
        kill_and_reap();
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::move(other.pidfd_);
    }
    return *this;
}

ChildProcess::~ChildProcess() { kill_and_reap(); }

void ChildProcess::kill_and_reap() {
    if (pid_ <= 0) return;
    signal(SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    pidfd_.reset();
}

bool ChildProcess::has_exited() const {
    if (pid_ <= 0) return true;
    siginfo_t info{};
    int result = 0;
    do {
        result = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    } while (result < 0 && errno == EINTR);
    return result < 0 || info.si_pid == pid_;  // ECHILD: reaped by someone else, gone
}

std::optional<int> ChildProcess::try_reap() {
    if (pid_ <= 0) return std::nullopt;
    int status = 0;
    pid_t reaped = 0;
    do {
        reaped = ::waitpid(pid_, &status, WNOHANG);
    } while (reaped < 0 && errno == EINTR);
    // ECHILD: someone else reaped it (a plugin's waitpid(-1)); it is gone all the same.
    if (reaped < 0 && errno == ECHILD) status = 0;
    else if (reaped != pid_) return std::nullopt;
    pid_ = -1;
    pidfd_.reset();
    return status;
}

void ChildProcess::signal(int signal_number) const {
    if (pid_ <= 0) return;
    // Through the pidfd: the pid could be reused if somebody else reaped the child.
    if (pidfd_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal_number, nullptr, 0);
    else ::kill(pid_, signal_number);
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    return "stopped with wait status " + std::to_string(status);
}

}  // namespace sockhost
