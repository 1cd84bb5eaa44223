// The handoff channel: a SOCK_SEQPACKET pair between the supervisor and each worker, over
// which a reload moves idle connections and plugin state to the next generation
// (docs/architecture.md, "Handoff"). One message per packet: a fixed header, then its
// bytes, with up to kMaxFds descriptors attached (SCM_RIGHTS). The supervisor only relays
// what it gets: it never reads a connection nor a state.
//
//   supervisor -> worker   drain   stop accepting and hand idle connections over
//   worker -> supervisor   offer   listener, unread bytes, connection state; fds: the
//                                  connection and the write end of the offer's reply pipe
//                                  or a batch: 2 to kMaxBatch connections that have no
//                                  unread bytes, their states (encode_batch_states), and
//                                  one reply pipe for them all (the last fd); a batch of
//                                  one is sent as a plain offer
//   supervisor -> worker   take    the same, for a worker of the next generation
//   worker -> supervisor   state_wanted   before READY: the listener's previous state
//   supervisor -> worker   export_state   the serving worker: export that listener's
//   worker -> supervisor   exported       id; text: why not; fd: a sealed memfd
//   supervisor -> worker   state          status; text: why not; fd: the memfd
//
// An offer is answered on its own pipe: kTakenByte when a worker took the connection (a
// batch: all of them), kCloseByte when it cannot move (end it as without handoff), or end
// of file with no byte when no worker took it yet (the taker died, none is ready): the
// offerer keeps it and offers it again later. So nobody keeps a table of offers, and a death anywhere
// answers by itself.
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sockhost {

enum class HandoffType : std::uint32_t { drain = 1, offer, take, state_wanted, export_state, exported, state };
enum class StateStatus : std::uint32_t { none = 0, ok, failed };

struct HandoffMessage {
    HandoffType type = HandoffType::drain;
    std::uint32_t listener = 0;  // index in the whole configuration of the sender's generation
    std::uint64_t id = 0;        // export_state/exported: matches the answer to the request
    StateStatus status = StateStatus::none;
    std::string unread;  // offer/take: bytes received from the connection, not yet read
    std::string connection_state;  // offer/take: the plugin's set_handoff_state
    std::string text;    // exported/state: the reason of a failure
    std::vector<UniqueFd> fds;
};

inline constexpr char kTakenByte = 'T';
inline constexpr char kCloseByte = 'C';

// Answers an offer on its reply socket. Never waits, and is harmless on anything else a
// hostile worker may have passed in its place (send fails on what is not a socket).
void answer_offer(int reply_fd, char answer);

// A batch's per-connection states in an offer's connection_state: a 32-bit length and the
// bytes, for each connection in turn.
std::string encode_batch_states(const std::vector<std::string> &states);
// The `count` states of a batch, or empty with `problem` set (the bytes come from a worker).
std::vector<std::string> decode_batch_states(std::string_view encoded, std::size_t count, std::string &problem);

class HandoffChannel {
public:
    // Connections per batch: a draining worker's parked connections move this many to a
    // packet. Far below SCM_MAX_FD (253); the taker's main thread parks them in one pass.
    static constexpr std::size_t kMaxBatch = 64;
    static constexpr std::size_t kMaxFds = kMaxBatch + 1;
    // Header plus bytes: unread input and connection state are bounded well below this.
    static constexpr std::size_t kMaxPacket = 128 * 1024;
    static constexpr std::size_t kMaxUnread = 64 * 1024;

    // A connected pair: first for the supervisor, second for the worker (blocking: the
    // supervisor's sends and receives pass MSG_DONTWAIT).
    static Result<std::pair<UniqueFd, UniqueFd>> make_pair();

    HandoffChannel() = default;
    explicit HandoffChannel(UniqueFd fd) : fd_(std::move(fd)) {}
    int fd() const { return fd_.get(); }
    bool open() const { return static_cast<bool>(fd_); }
    void close() { fd_.reset(); }

    enum class SendResult { sent, would_block, failed };
    // Sends one message; descriptors are duplicated by the kernel, the caller keeps its own.
    // MSG_DONTWAIT when `wait` is false.
    SendResult send(const HandoffMessage &message, bool wait = true) const;

    enum class ReceiveResult { received, would_block, closed, malformed };
    struct Received {
        ReceiveResult result;
        HandoffMessage message;
        std::string problem;  // malformed: what was wrong
    };
    Received receive(bool wait = false) const;

    // One packet's bytes into `message` (its fds aside): empty, or what is wrong with it.
    // The supervisor reads what workers send, and workers run plugin code: untrusted.
    static std::string decode(std::string_view packet, HandoffMessage &message);

private:
    UniqueFd fd_;
};

}  // namespace sockhost
