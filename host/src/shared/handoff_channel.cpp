#include <sockhost/host/shared/handoff_channel.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sockhost {

namespace {

struct Header {
    std::uint32_t type;
    std::uint32_t listener;
    std::uint64_t id;
    std::uint32_t status;
    std::uint32_t unread_length;
    std::uint32_t state_length;
    std::uint32_t text_length;
};

}  // namespace

std::string encode_batch_states(const std::vector<std::string> &states) {
    std::string encoded;
    for (const std::string &state : states) {
        const auto length = static_cast<std::uint32_t>(state.size());
        encoded.append(reinterpret_cast<const char *>(&length), sizeof length);
        encoded.append(state);
    }
    return encoded;
}

std::vector<std::string> decode_batch_states(std::string_view encoded, std::size_t count, std::string &problem) {
    std::vector<std::string> states;
    states.reserve(std::min(count, HandoffChannel::kMaxBatch));
    for (std::size_t index = 0; index < count; ++index) {
        std::uint32_t length = 0;
        if (encoded.size() < sizeof length) {
            problem = "a batch whose states end before its connection " + std::to_string(index + 1) + " of " +
                      std::to_string(count);
            return {};
        }
        std::memcpy(&length, encoded.data(), sizeof length);
        encoded.remove_prefix(sizeof length);
        if (length > encoded.size()) {
            problem = "a batch whose state " + std::to_string(index + 1) + " is longer than the message";
            return {};
        }
        states.emplace_back(encoded.substr(0, length));
        encoded.remove_prefix(length);
    }
    if (!encoded.empty()) {
        problem = "a batch with " + std::to_string(encoded.size()) + " bytes past its " + std::to_string(count) + " states";
        return {};
    }
    return states;
}

void answer_offer(int reply_fd, char answer) {
    [[maybe_unused]] const ssize_t sent = ::send(reply_fd, &answer, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

Result<std::pair<UniqueFd, UniqueFd>> HandoffChannel::make_pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return fail_errno("handoff channel socketpair");
    UniqueFd supervisor_end(fds[0]);
    UniqueFd worker_end(fds[1]);
    // Room for a burst of offers: the supervisor relays them as fast as they come.
    const int buffer = 4 * 1024 * 1024;
    for (const int fd : fds) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    }
    return std::pair{std::move(supervisor_end), std::move(worker_end)};
}

HandoffChannel::SendResult HandoffChannel::send(const HandoffMessage &message, bool wait) const {
    if (message.fds.size() > kMaxFds || message.unread.size() > kMaxUnread) return SendResult::failed;
    const Header header{static_cast<std::uint32_t>(message.type),
                        message.listener,
                        message.id,
                        static_cast<std::uint32_t>(message.status),
                        static_cast<std::uint32_t>(message.unread.size()),
                        static_cast<std::uint32_t>(message.connection_state.size()),
                        static_cast<std::uint32_t>(message.text.size())};
    if (sizeof header + message.unread.size() + message.connection_state.size() + message.text.size() > kMaxPacket)
        return SendResult::failed;
    iovec parts[4] = {{const_cast<Header *>(&header), sizeof header},
                      {const_cast<char *>(message.unread.data()), message.unread.size()},
                      {const_cast<char *>(message.connection_state.data()), message.connection_state.size()},
                      {const_cast<char *>(message.text.data()), message.text.size()}};
    msghdr packet{};
    packet.msg_iov = parts;
    packet.msg_iovlen = 4;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    if (!message.fds.empty()) {
        packet.msg_control = control;
        packet.msg_controllen = CMSG_SPACE(sizeof(int) * message.fds.size());
        cmsghdr *attached = CMSG_FIRSTHDR(&packet);
        attached->cmsg_level = SOL_SOCKET;
        attached->cmsg_type = SCM_RIGHTS;
        attached->cmsg_len = CMSG_LEN(sizeof(int) * message.fds.size());
        int *slots = reinterpret_cast<int *>(CMSG_DATA(attached));
        for (std::size_t index = 0; index < message.fds.size(); ++index) slots[index] = message.fds[index].get();
    }
    for (;;) {
        if (::sendmsg(fd_.get(), &packet, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT)) >= 0) return SendResult::sent;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return SendResult::would_block;
        return SendResult::failed;
    }
}

HandoffChannel::Received HandoffChannel::receive(bool wait) const {
    Received received{ReceiveResult::malformed, {}, {}};
    // 128 KiB: not on the stack. Only main threads receive (the supervisor's, a worker's).
    thread_local std::vector<char> buffer(kMaxPacket);
    iovec part{buffer.data(), buffer.size()};
    msghdr packet{};
    packet.msg_iov = &part;
    packet.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    packet.msg_control = control;
    packet.msg_controllen = sizeof control;
    ssize_t length = 0;
    for (;;) {
        length = ::recvmsg(fd_.get(), &packet, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT));
        if (length >= 0 || errno != EINTR) break;
    }
    if (length < 0) {
        received.result = (errno == EAGAIN || errno == EWOULDBLOCK) ? ReceiveResult::would_block : ReceiveResult::closed;
        return received;
    }
    if (length == 0) {
        received.result = ReceiveResult::closed;
        return received;
    }
    // Descriptors first: whatever else is wrong, none of them may leak.
    for (cmsghdr *attached = CMSG_FIRSTHDR(&packet); attached != nullptr; attached = CMSG_NXTHDR(&packet, attached)) {
        if (attached->cmsg_level != SOL_SOCKET || attached->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (attached->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const int *slots = reinterpret_cast<const int *>(CMSG_DATA(attached));
        for (std::size_t index = 0; index < count; ++index) received.message.fds.emplace_back(slots[index]);
    }
    if ((packet.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
        received.problem = "a message longer than " + std::to_string(kMaxPacket) + " bytes or with too many descriptors";
        received.message.fds.clear();
        return received;
    }
    if (std::string problem = decode({buffer.data(), static_cast<std::size_t>(length)}, received.message);
        !problem.empty()) {
        received.problem = std::move(problem);
        received.message.fds.clear();
        return received;
    }
    received.result = ReceiveResult::received;
    return received;
}

std::string HandoffChannel::decode(std::string_view packet, HandoffMessage &message) {
    Header header{};
    if (packet.size() < sizeof header) return "a message shorter than its header";
    std::memcpy(&header, packet.data(), sizeof header);
    const std::size_t body = std::size_t{header.unread_length} + header.state_length + header.text_length;
    if (packet.size() != sizeof header + body) return "a message whose header does not match its length";
    if (header.type < static_cast<std::uint32_t>(HandoffType::drain) ||
        header.type > static_cast<std::uint32_t>(HandoffType::state))
        return "a message of unknown type " + std::to_string(header.type);
    if (header.status > static_cast<std::uint32_t>(StateStatus::failed))
        return "a message with unknown status " + std::to_string(header.status);
    if (header.unread_length > kMaxUnread) return "a message with more unread bytes than a connection may carry";
    message.type = static_cast<HandoffType>(header.type);
    message.listener = header.listener;
    message.id = header.id;
    message.status = static_cast<StateStatus>(header.status);
    std::string_view rest = packet.substr(sizeof header);
    message.unread.assign(rest.substr(0, header.unread_length));
    rest.remove_prefix(header.unread_length);
    message.connection_state.assign(rest.substr(0, header.state_length));
    rest.remove_prefix(header.state_length);
    message.text.assign(rest);
    return {};
}

}  // namespace sockhost
