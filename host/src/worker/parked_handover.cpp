#include <sockhost/host/worker/parked_handover.hpp>

#include <sockhost/host/shared/log.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace sockhost {

namespace {

// As for a connection offered by its request (stream_request.cpp): no worker took it, and
// the next generation's worker may be starting again.
constexpr auto kOfferAgainAfter = std::chrono::milliseconds(250);
// A full channel (the supervisor relays a burst) is tried again this soon.
constexpr auto kChannelFullRetry = std::chrono::milliseconds(5);

struct Batch {
    ConnectionHandoff *handoff;
    std::vector<ParkedConnection> connections;
    UniqueFd reply;  // set while offered
    Clock::time_point offer_at;
};

// Splits what a listener holds into batches of at most kMaxBatch connections whose states
// fit one packet with room for the header.
void add_batches(ConnectionHandoff &handoff, std::vector<ParkedConnection> held, std::vector<Batch> &batches,
                 Clock::time_point now) {
    constexpr std::size_t kStateBudget = HandoffChannel::kMaxPacket - 1024;
    std::size_t bytes = 0;
    for (auto &connection : held) {
        const std::size_t cost = sizeof(std::uint32_t) + connection.connection_state.size();
        if (batches.empty() || batches.back().handoff != &handoff ||
            batches.back().connections.size() == HandoffChannel::kMaxBatch || bytes + cost > kStateBudget) {
            batches.push_back({&handoff, {}, {}, now});
            bytes = 0;
        }
        bytes += cost;
        batches.back().connections.push_back(std::move(connection));
    }
}

// Sends the batch's offer; false when it cannot go now: the channel is full, or out of
// descriptors (tried again soon, until the deadline).
bool offer(const HandoffChannel &channel, Batch &batch) {
    int pipe_fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pipe_fds) != 0) return false;
    UniqueFd reply_read(pipe_fds[0]);
    HandoffMessage message;
    message.type = HandoffType::offer;
    message.listener = static_cast<std::uint32_t>(batch.handoff->listener_index());
    if (batch.connections.size() == 1) {
        message.connection_state = batch.connections[0].connection_state;
    } else {
        std::vector<std::string> states;
        states.reserve(batch.connections.size());
        for (const auto &connection : batch.connections) states.push_back(connection.connection_state);
        message.connection_state = encode_batch_states(states);
    }
    for (auto &connection : batch.connections) message.fds.push_back(std::move(connection.connection));
    message.fds.emplace_back(pipe_fds[1]);
    const auto sent = channel.send(message, false);
    for (std::size_t index = 0; index < batch.connections.size(); ++index)
        batch.connections[index].connection = std::move(message.fds[index]);
    if (sent != HandoffChannel::SendResult::sent) return false;
    batch.reply = std::move(reply_read);
    return true;  // the write end in flight is the supervisor's now; ours closes with `message`
}

// Ends a batch: its connections are someone else's now, or end here.
void finish(Batch &batch) {
    batch.handoff->forget(batch.connections.size());
    batch.connections.clear();
    batch.reply.reset();
}

}  // namespace

void hand_over_held_connections(const HandoffChannel &channel, const std::vector<ConnectionHandoff *> &listeners,
                                Clock::time_point deadline, const std::function<bool()> &fast_stop) {
    std::vector<Batch> batches;
    std::size_t held = 0;
    const auto started = Clock::now();
    for (ConnectionHandoff *handoff : listeners) {
        auto connections = handoff->take_held();
        held += connections.size();
        add_batches(*handoff, std::move(connections), batches, started);
    }
    if (batches.empty()) return;
    std::size_t moved = 0;
    std::size_t refused = 0;  // the next generation does not take this listener's connections
    std::vector<pollfd> watched;
    std::vector<Batch *> watched_batches;
    while (!batches.empty() && Clock::now() < deadline && !fast_stop()) {
        auto now = Clock::now();
        auto wake_at = std::min(deadline, now + std::chrono::milliseconds(50));
        watched.clear();
        watched_batches.clear();
        for (auto &batch : batches) {
            if (!batch.reply && batch.offer_at <= now && !offer(channel, batch))
                batch.offer_at = now + kChannelFullRetry;
            if (batch.reply) {
                watched.push_back({batch.reply.get(), POLLIN, 0});
                watched_batches.push_back(&batch);
            } else {
                wake_at = std::min(wake_at, batch.offer_at);
            }
        }
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::max(Clock::duration::zero(), wake_at - now));
        if (::poll(watched.data(), watched.size(), static_cast<int>(wait.count())) <= 0) continue;
        now = Clock::now();
        for (std::size_t index = 0; index < watched.size(); ++index) {
            if (watched[index].revents == 0) continue;
            Batch &batch = *watched_batches[index];
            char answer = 0;
            const ssize_t count = ::read(batch.reply.get(), &answer, 1);
            if (count < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (count == 1 && answer == kTakenByte) {
                moved += batch.connections.size();
                finish(batch);
            } else if (count == 1 && answer == kCloseByte) {
                refused += batch.connections.size();
                finish(batch);
            } else {  // every write end closed without an answer: nobody took them yet
                batch.reply.reset();
                batch.offer_at = now + kOfferAgainAfter;
            }
        }
        std::erase_if(batches, [](const Batch &batch) { return batch.connections.empty(); });
    }
    std::size_t left = 0;
    for (auto &batch : batches) {
        left += batch.connections.size();
        finish(batch);
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    log_info("handed " + std::to_string(moved) + " of " + std::to_string(held) +
             " parked connection(s) to the next generation in " + std::to_string(took.count()) + " ms" +
             (refused == 0 ? std::string() : "; closed " + std::to_string(refused) + " it does not take") +
             (left == 0 ? std::string() : "; closed " + std::to_string(left) + " not taken by the deadline"));
}

}  // namespace sockhost
