// systemd's service notification protocol: one datagram of "KEY=VALUE" lines to the Unix
// socket named by NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
// Hand-written rather than linked from libsystemd: the protocol is a single sendto(), and
// the host then runs (and is tested) the same way with or without systemd installed.
#pragma once

#include <string>

namespace sockhost {

class SystemdNotifier {
public:
    // Takes NOTIFY_SOCKET from the environment (and removes it: workers must not notify;
    // MAINPID stays the supervisor's). Without it, notify() does nothing.
    static SystemdNotifier from_environment();

    // Sends `state` ("READY=1\nSTATUS=serving"); failures are logged, never fatal.
    void notify(const std::string &state) const;

    // "RELOADING=1\nMONOTONIC_USEC=<now>" as systemd >= 253's Type=notify-reload expects.
    static std::string reloading_state();

private:
    std::string socket_path_;
};

}  // namespace sockhost
