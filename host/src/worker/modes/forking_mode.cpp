// socketserver's ForkingMixIn: a child process per request, at most `max_children` alive.
// The parent reaps only the children it forked (by pid, never waitpid(-1)). A child dies
// with its worker (RequestForker); one still running at the stop deadline is killed.
#include <sockhost/host/shared/child_process.hpp>
#include <sockhost/host/worker/connection_registry.hpp>
#include <sockhost/host/worker/modes/concurrency_mode.hpp>
#include <sockhost/host/worker/modes/request_forker.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/request_activity.hpp>
#include <sockhost/host/worker/request_lifecycle.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <list>

namespace sockhost {

namespace {

// The child starts with the host's signal handling undone: stop signals take their
// default action again, so the parent can end it, and none is blocked.
void reset_child_signals() {
    for (const int signal_number : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2})
        std::signal(signal_number, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
}

class ForkingMode final : public BlockingMode {
public:
    ForkingMode(Handler &handler, int max_children, std::vector<int> inherited_fds_to_close, RequestForker &forker)
        : handler_(handler),
          max_children_(max_children),
          fds_to_close_(std::move(inherited_fds_to_close)),
          forker_(forker) {}

    void dispatch(std::unique_ptr<Request> request) override {
        // Forked by the process's forker thread, not this loop thread: the child dies with
        // the worker, not when this loop ends (request_forker.hpp).
        const auto pid = forker_.fork_child([&] { run_child(*request); });
        if (!pid) {
            log_error(std::string(handler_.name()) + ": cannot fork for " + request->peer_text() + ": " +
                      pid.error().message);
            return;
        }
        // The parent's copy of the connection closes with `request`; the child has its own.
        auto child = ChildProcess::adopt(*pid);
        if (!child) {
            log_error(child.error().message);
            return;  // the child is killed and reaped by the destroyed ChildProcess
        }
        auto &record = children_.emplace_back(std::move(*child), request->peer());
        record.tally.take_over(request->tally());
    }

    bool at_capacity() const override { return children_.size() >= static_cast<std::size_t>(max_children_); }

    void append_wake_fds(std::vector<int> &fds) const override {
        for (const auto &child : children_) fds.push_back(child.process.pidfd());
    }

    void collect_finished() override {
        for (auto child = children_.begin(); child != children_.end();) {
            const pid_t pid = child->process.pid();
            if (!child->process.has_exited()) {
                ++child;
                continue;
            }
            // Its activity slots are freed before it is reaped, while its pid is still its own.
            const std::string site = release_activity_of(pid);
            const auto status = child->process.try_reap();
            // Exit status 0 or 1: run_child ended, having counted its request.
            if (status && (!WIFEXITED(*status) || WEXITSTATUS(*status) > 1)) {
                log_error(std::string(handler_.name()) + ": request child " + std::to_string(pid) + " " +
                          describe_wait_status(*status) + (WIFSIGNALED(*status) ? site : std::string()));
                child->tally.end(terminating_ ? RequestOutcome::cancelled : RequestOutcome::error, child->peer);
            }
            child->tally.end_counted_by_child();
            child = children_.erase(child);
        }
    }

    void terminate_remaining() override {
        // Children saw the cancel fd too; give them a moment to finish their I/O cleanly,
        // then SIGTERM, then SIGKILL (by ChildProcess's destructor).
        terminating_ = true;  // a child that dies from here on was cut off by the deadline
        if (wait_idle(Clock::now() + std::chrono::milliseconds(500))) return;
        for (const auto &child : children_) child.process.signal(SIGTERM);
        wait_idle(Clock::now() + std::chrono::seconds(1));
        for (auto &child : children_) child.tally.end(RequestOutcome::cancelled, child.peer);  // killed below
        children_.clear();
    }

    std::size_t in_flight() const override { return children_.size(); }

private:
    [[noreturn]] void run_child(Request &request) {
        reset_child_signals();
        for (const int fd : fds_to_close_) ::close(fd);
        ConnectionRegistry::close_all_but(request.connection_fd());  // other listeners' connections
        request.tally().leave_connection_to_parent();  // which closes it even if this child crashes
        bool succeeded = false;
        if (auto initialized = handler_.process_init(); !initialized) {
            log_error(initialized.error().message);
            request.release_user_data();  // the child's copy of what verify attached
            request.tally().end(RequestOutcome::error, request.peer());
        } else {
            succeeded = run_request(handler_, request);
        }
        std::fflush(nullptr);  // a plugin's stdio output, since _exit skips it
        // _exit: no destructors, so the child never touches the parent's sockets or paths.
        ::_exit(succeeded ? 0 : 1);
    }

    Handler &handler_;
    int max_children_;
    std::vector<int> fds_to_close_;
    // A request's child, and what its parent counts for it (request_tally.hpp).
    struct RequestChild {
        RequestChild(ChildProcess child, const SocketAddress &peer_address) : process(std::move(child)), peer(peer_address) {}
        ChildProcess process;
        SocketAddress peer;
        RequestTally tally;
    };

    RequestForker &forker_;
    std::list<RequestChild> children_;
    bool terminating_ = false;
};

}  // namespace

Result<std::unique_ptr<ConcurrencyMode>> make_forking_mode(Handler &handler, int max_children,
                                                           std::vector<int> inherited_fds_to_close) {
    auto forker = RequestForker::for_this_process();
    if (!forker) return std::unexpected(forker.error());
    return std::make_unique<ForkingMode>(handler, max_children, std::move(inherited_fds_to_close), **forker);
}

}  // namespace sockhost
