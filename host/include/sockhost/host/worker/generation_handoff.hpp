// The worker's main thread in a handoff (shared/handoff_channel.hpp): it imports the
// previous generation's plugin state before READY, exports its own when the next
// generation asks, and queues the connections handed to its listeners.
#pragma once

#include <sockhost/host/shared/config.hpp>
#include <sockhost/host/shared/handoff_channel.hpp>
#include <sockhost/host/worker/server.hpp>

#include <memory>
#include <vector>

namespace sockhost {

using Servers = std::vector<std::unique_ptr<Server>>;

// Before READY: for each listener whose plugin imports state, asks the supervisor for the
// state the previous generation's instance exported, and imports it. An error (the export
// failed or timed out, the state is too big, the plugin refused it) fails the start.
Result<void> import_previous_state(const HandoffChannel &channel, const Servers &servers, const HostConfig &config);

// What the main thread does with one message while serving: take a handed-over
// connection, or export a listener's state. A drain is the caller's.
void on_handoff_message(const HandoffChannel &channel, const Servers &servers, HandoffMessage message,
                        const HostConfig &config);

}  // namespace sockhost
