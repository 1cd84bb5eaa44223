#include <sockhost/host/supervisor/listener_set.hpp>

#include <sockhost/host/shared/log.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <cstring>

#include <map>

namespace sockhost {

std::vector<std::string> ListenerSet::keys_of(const std::vector<ListenerConfig> &listeners) {
    std::vector<std::string> keys;
    std::map<std::string, int> seen;
    for (const auto &listener : listeners) {
        const std::string text = listener.address.text();
        keys.push_back(text + "#" + std::to_string(seen[text]++));
    }
    return keys;
}

void ListenerSet::offer_activated(std::vector<InheritedListener> activated) { activated_ = std::move(activated); }

Result<std::optional<ListenerSocket>> ListenerSet::take_activated(const ListenerConfig &listener) {
    auto found = activated_.end();
    if (!listener.name.empty())
        for (auto candidate = activated_.begin(); candidate != activated_.end(); ++candidate)
            if (candidate->name == listener.name) found = candidate;
    if (found == activated_.end())
        for (auto candidate = activated_.begin(); candidate != activated_.end(); ++candidate)
            if (ListenerSocket::matches(candidate->fd.get(), listener.address)) {
                found = candidate;
                break;
            }
    if (found == activated_.end()) return std::nullopt;  // none matches: bind it
    UniqueFd fd = std::move(found->fd);
    const std::string name = found->name;
    activated_.erase(found);
    // Set once, here: another process may accept from the same socket, so readiness seen
    // by poll() can be gone by accept() (see ListenerSocket::bind).
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        return fail_errno(listener.address.text() + ": activated socket '" + name + "': O_NONBLOCK");
    auto socket = ListenerSocket::adopt(std::move(fd), listener.address);
    if (!socket) return std::unexpected(socket.error());
    log_info("using the activated socket '" + name + "' for " + socket->bound_text());
    return std::optional<ListenerSocket>(std::move(*socket));
}

void ListenerSet::close_unclaimed_activated() {
    for (auto &unclaimed : activated_)
        log_warning("closing activated socket fd " + std::to_string(unclaimed.fd.get()) + " ('" + unclaimed.name +
                    "'): no configured listener matches it by name or address");
    activated_.clear();
}

Result<std::vector<std::string>> ListenerSet::acquire(const std::vector<ListenerConfig> &listeners) {
    const auto keys = keys_of(listeners);
    std::vector<std::string> added;
    const auto undo = [&](const Error &error) -> Result<std::vector<std::string>> {
        for (const auto &key : added) held_.erase(key);
        return fail(error.message);
    };
    for (std::size_t index = 0; index < listeners.size(); ++index) {
        const auto &listener = listeners[index];
        if (const auto kept = held_.find(keys[index]); kept != held_.end()) {
            update_kept(kept->second, listener);
            continue;
        }
        auto activated = take_activated(listener);
        if (!activated) return undo(activated.error());
        if (*activated) {
            held_.emplace(keys[index], Held{std::move(**activated), true, listener.bind});
            added.push_back(keys[index]);
            continue;
        }
        auto socket = ListenerSocket::bind(listener.address, listener.bind);
        if (!socket) return undo(socket.error());
        held_.emplace(keys[index], Held{std::move(*socket), false, listener.bind});
        added.push_back(keys[index]);
    }
    close_unclaimed_activated();
    return keys;
}

void ListenerSet::update_kept(Held &held, const ListenerConfig &listener) {
    const std::string where = held.socket.bound_text();
    if (!is_datagram(listener.address.transport) &&
        listener.bind.request_queue_size != held.options.request_queue_size) {
        // listen() on a listening socket only changes its backlog: queued connections stay.
        if (::listen(held.socket.fd(), listener.bind.request_queue_size) == 0) {
            log_info(where + ": request_queue_size " + std::to_string(held.options.request_queue_size) + " -> " +
                     std::to_string(listener.bind.request_queue_size));
            held.options.request_queue_size = listener.bind.request_queue_size;
        } else {
            log_warning(where + ": cannot change request_queue_size: " + std::strerror(errno));
        }
    }
    if (listener.bind.reuse_address != held.options.reuse_address ||
        listener.bind.reuse_port != held.options.reuse_port)
        log_warning(where + ": reuse_address/reuse_port changed, but a kept listener is never re-bound; the new value "
                            "applies once the listener is removed and added again");
}

void ListenerSet::retire_all_but(const std::set<std::string> &wanted, bool stopping) {
    for (auto entry = held_.begin(); entry != held_.end();) {
        if (wanted.contains(entry->first)) {
            ++entry;
            continue;
        }
        if (!stopping) log_info("closed listener " + entry->second.socket.bound_text() + ": no longer configured");
        entry = held_.erase(entry);  // a Unix path this process bound is removed here
    }
}

}  // namespace sockhost
