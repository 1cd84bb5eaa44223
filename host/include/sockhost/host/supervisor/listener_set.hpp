// The supervisor's listeners, kept across generations. Each is created once (bound here,
// or taken from systemd's socket activation) and never re-bound while a configuration
// still wants it; Unix socket paths are removed only here, when a listener is retired.
#pragma once

#include <sockhost/host/shared/config.hpp>
#include <sockhost/host/shared/inherited_listeners.hpp>
#include <sockhost/host/shared/listener.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sockhost {

class ListenerSet {
public:
    // Sockets systemd passed to the supervisor: used for the listeners they match (by
    // `name`, else by address and type) at the first acquire(); the rest are then closed.
    void offer_activated(std::vector<InheritedListener> activated);

    // The keys of `listeners` (in order), binding or adopting those not held yet. On
    // failure, what this call added is closed again and the error names the listener.
    // A kept listener's backlog follows `request_queue_size` (listen() again); options
    // fixed at bind (reuse_address, reuse_port) are logged as unchanged.
    Result<std::vector<std::string>> acquire(const std::vector<ListenerConfig> &listeners);

    // Closes every listener whose key is not in `wanted` (logged unless `stopping`).
    void retire_all_but(const std::set<std::string> &wanted, bool stopping = false);

    const ListenerSocket &at(const std::string &key) const { return held_.at(key).socket; }
    std::size_t size() const { return held_.size(); }

    // A listener's identity across configurations: its configured address, with the
    // occurrence number for addresses that may repeat (port 0).
    static std::vector<std::string> keys_of(const std::vector<ListenerConfig> &listeners);

private:
    struct Held {
        ListenerSocket socket;
        bool activated = false;  // passed by systemd
        BindOptions options;     // as created (socket-level options are fixed from then on)
    };
    void update_kept(Held &held, const ListenerConfig &listener);
    // The activated socket that matches `listener`, if any.
    Result<std::optional<ListenerSocket>> take_activated(const ListenerConfig &listener);
    void close_unclaimed_activated();

    std::map<std::string, Held> held_;
    std::vector<InheritedListener> activated_;
};

}  // namespace sockhost
