// Listening sockets passed to this process as fds 3.. with LISTEN_FDS / LISTEN_FDNAMES /
// LISTEN_PID: systemd's socket-activation protocol, which the supervisor also uses to
// hand its listeners to each worker.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <string>
#include <vector>

namespace sockhost {

inline constexpr int kFirstListenFd = 3;  // SD_LISTEN_FDS_START

struct InheritedListener {
    UniqueFd fd;
    std::string name;  // from LISTEN_FDNAMES; "" if none was given
};

// Takes the passed fds if LISTEN_PID names this process (none otherwise), marks them
// close-on-exec and removes the three variables from the environment.
Result<std::vector<InheritedListener>> take_inherited_listeners();

}  // namespace sockhost
