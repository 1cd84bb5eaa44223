#include <sockhost/host/supervisor/systemd_notify.hpp>

#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sockhost {

SystemdNotifier SystemdNotifier::from_environment() {
    SystemdNotifier notifier;
    if (const char *path = std::getenv("NOTIFY_SOCKET")) notifier.socket_path_ = path;
    ::unsetenv("NOTIFY_SOCKET");
    return notifier;
}

std::string SystemdNotifier::reloading_state() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const long long microseconds = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
    return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(microseconds);
}

void SystemdNotifier::notify(const std::string &state) const {
    if (socket_path_.empty()) return;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof address.sun_path || (socket_path_[0] != '/' && socket_path_[0] != '@')) {
        log_warning("NOTIFY_SOCKET '" + socket_path_ + "': not an absolute path or @abstract name; not notifying");
        return;
    }
    std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
    if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    // A full receive queue at the other end blocks a datagram send: bounded, so a stuck
    // service manager cannot stall the supervisor's loop.
    const timeval send_timeout{2, 0};
    if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    if (!fd || ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr *>(&address),
                        length) < 0)
        log_warning("NOTIFY_SOCKET " + socket_path_ + ": cannot notify: " + std::strerror(errno));
}

}  // namespace sockhost
