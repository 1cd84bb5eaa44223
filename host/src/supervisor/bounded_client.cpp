#include <sockhost/host/supervisor/bounded_client.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace sockhost {

pollfd BoundedClient::watched() const {
    return {fd_.get(), static_cast<short>(phase_ == Phase::writing ? POLLOUT : POLLIN), 0};
}

bool BoundedClient::read_request(std::size_t limit) {
    if (phase_ != Phase::reading || request_ended_) return phase_ != Phase::done;
    char buffer[4096];
    while (received_.size() < limit) {
        const ssize_t count = ::recv(fd_.get(), buffer, std::min(sizeof buffer, limit - received_.size()), MSG_DONTWAIT);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (count < 0) {
            finish();
            return false;
        }
        if (count == 0) {
            request_ended_ = true;
            break;
        }
        received_.append(buffer, static_cast<std::size_t>(count));
    }
    return true;
}

void BoundedClient::answer(std::string text, Clock::time_point deadline, bool linger) {
    if (phase_ == Phase::done) return;
    pending_ = std::move(text);
    written_ = 0;
    deadline_ = deadline;
    // A client that shut down its side sends nothing more: there is nothing to wait for.
    linger_ = linger && !request_ended_;
    received_ = std::string();
    phase_ = Phase::writing;
    proceed(Clock::now());
}

bool BoundedClient::proceed(Clock::time_point now) {
    if (phase_ == Phase::writing) {
        if (!write_pending(now)) {
            finish();
            return false;
        }
        if (phase_ == Phase::writing && now >= deadline_) {
            finish();
            return false;
        }
    }
    if (phase_ == Phase::lingering) linger(now);
    return true;
}

bool BoundedClient::write_pending(Clock::time_point now) {
    std::size_t this_pass = 0;
    while (written_ < pending_.size() && this_pass < kMaxBytesPerPass) {
        const std::size_t chunk = std::min(pending_.size() - written_, kMaxBytesPerPass - this_pass);
        const ssize_t count = ::send(fd_.get(), pending_.data() + written_, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (count <= 0) return false;
        written_ += static_cast<std::size_t>(count);
        this_pass += static_cast<std::size_t>(count);
    }
    if (written_ < pending_.size()) return true;
    // All written: the answer ends with the connection.
    pending_ = std::string();
    ::shutdown(fd_.get(), SHUT_WR);
    if (!linger_) {
        finish();
        return true;
    }
    phase_ = Phase::lingering;
    deadline_ = now + kMaxLinger;
    return true;
}

void BoundedClient::linger(Clock::time_point now) {
    char buffer[4096];
    for (;;) {
        const ssize_t count = ::recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (count <= 0) return finish();  // the client closed (or broke): nothing left unread
        discarded_ += static_cast<std::size_t>(count);
        if (discarded_ >= kMaxLingerBytes) return finish();
    }
    if (now >= deadline_) finish();
}

void BoundedClient::finish() {
    fd_.reset();
    pending_ = std::string();
    received_ = std::string();
    phase_ = Phase::done;
}

}  // namespace sockhost
