// A draining worker's main thread hands on the connections it holds without a request
// (worker/connection_handoff.hpp: parked since they came, idle since): no request, fiber,
// thread or plugin call each, but HandoffChannel::kMaxBatch to a packet with one reply
// socket for them all.
#pragma once

#include <sockhost/host/shared/clock.hpp>
#include <sockhost/host/shared/handoff_channel.hpp>
#include <sockhost/host/worker/connection_handoff.hpp>

#include <functional>
#include <vector>

namespace sockhost {

// At a reload drain, after every listener refused new takes: offers what each listener
// holds to the next generation and waits for the answers. Taken (or to be closed, when the
// next generation does not take this listener's connections): closed here. Not taken (no
// worker of the next generation could): offered again a little later. At `deadline`, or
// when `fast_stop` says so, what is left is closed, as idle connections are at a stop.
void hand_over_held_connections(const HandoffChannel &channel, const std::vector<ConnectionHandoff *> &listeners,
                                Clock::time_point deadline, const std::function<bool()> &fast_stop);

}  // namespace sockhost
