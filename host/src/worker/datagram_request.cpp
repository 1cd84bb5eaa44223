// DatagramRequest: one UDP or Unix datagram and its reply (request.hpp).
#include <sockhost/host/worker/request.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sockhost {

DatagramRequest::DatagramRequest(int socket_fd, std::vector<char> datagram, Transport transport, SocketAddress peer,
                                 SocketAddress local, IoWaiter &waiter, std::chrono::milliseconds timeout,
                                 std::size_t max_reply_size)
    : Request(transport, peer, local, waiter, timeout),
      socket_fd_(socket_fd),
      datagram_(std::move(datagram)),
      max_reply_size_(max_reply_size) {}

std::int64_t DatagramRequest::receive(char *buffer, std::size_t capacity, bool) {
    // The datagram reads like a short stream: its bytes, then end of input.
    if (delivered_) return 0;
    const std::size_t count = std::min(capacity, datagram_.size());
    std::memcpy(buffer, datagram_.data(), count);
    datagram_.erase(datagram_.begin(), datagram_.begin() + static_cast<std::ptrdiff_t>(count));
    delivered_ = datagram_.empty();
    return static_cast<std::int64_t>(count);
}

bool DatagramRequest::queue_output(const char *data, std::size_t length) {
    if (reply_.size() + length > max_reply_size_)
        return fail("write: the reply would exceed " + std::to_string(max_reply_size_) + " bytes, the largest datagram");
    reply_.insert(reply_.end(), data, data + length);
    return true;
}

bool DatagramRequest::complete() {
    if (reply_.empty()) return true;  // nothing written: no reply (documented)
    if (peer().is_unbound_unix()) return fail("reply dropped: the unix-dgram client has no bound address to reply to");
    for (;;) {
        if (::sendto(socket_fd_, reply_.data(), reply_.size(), MSG_DONTWAIT | MSG_NOSIGNAL, peer().get(),
                     peer().length) >= 0) {
            tally().add_sent(reply_.size());
            return true;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait(socket_fd_, POLLOUT, "reply") != WaitResult::ready) return false;
            continue;
        }
        // A unix-dgram client that closed (refused) or removed its socket (no such file) is
        // gone: its doing, as a reset is on a stream. The log line names the peer already.
        const int error = errno;
        const bool gone = error == ECONNREFUSED || error == ENOENT;
        return fail(gone ? Failure::peer_gone : Failure::other, std::string("reply: ") + std::strerror(error));
    }
}

}  // namespace sockhost
