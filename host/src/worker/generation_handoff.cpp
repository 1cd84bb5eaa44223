#include <sockhost/host/worker/generation_handoff.hpp>

#include <sockhost/host/shared/log.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace sockhost {

namespace {

Server *server_of(const Servers &servers, std::uint32_t listener) {
    for (const auto &server : servers)
        if (server->handler().listener_index() == static_cast<int>(listener)) return server.get();
    return nullptr;
}

std::uint64_t state_limit_bytes(const HostConfig &config) { return config.state_handoff_limit_mb * 1024 * 1024; }

// The state travels in a sealed memfd: any size up to the limit, and the receiver knows
// nobody changes it while it reads.
Result<UniqueFd> state_memfd(const std::string &state) {
    UniqueFd fd(::memfd_create("sockhost-state", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) return fail_errno("memfd_create for the exported state");
    for (std::size_t written = 0; written < state.size();) {
        const ssize_t count = ::write(fd.get(), state.data() + written, state.size() - written);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) return fail_errno("writing the exported state");
        written += static_cast<std::size_t>(count);
    }
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        return fail_errno("sealing the exported state");
    return fd;
}

Result<std::string> read_state_memfd(int fd, std::uint64_t limit) {
    struct stat status {};
    if (::fstat(fd, &status) != 0) return fail_errno("the previous generation's state");
    const int seals = ::fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & F_SEAL_WRITE) == 0 || (seals & F_SEAL_SHRINK) == 0)
        return fail("the previous generation's state is not a sealed memfd");
    const auto size = static_cast<std::uint64_t>(status.st_size);
    if (size > limit)
        return fail("the previous generation's state is " + std::to_string(size) + " bytes, more than state_handoff_limit (" +
                    std::to_string(limit / (1024 * 1024)) + " MiB)");
    std::string state(size, '\0');
    for (std::size_t done = 0; done < state.size();) {
        const ssize_t count = ::pread(fd, state.data() + done, state.size() - done, static_cast<off_t>(done));
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return fail_errno("reading the previous generation's state");
        done += static_cast<std::size_t>(count);
    }
    return state;
}

void answer_export(const HandoffChannel &channel, const Servers &servers, const HandoffMessage &request,
                   const HostConfig &config) {
    HandoffMessage answer;
    answer.type = HandoffType::exported;
    answer.id = request.id;
    answer.listener = request.listener;
    Server *server = server_of(servers, request.listener);
    const auto refuse = [&](const std::string &reason) {
        answer.status = StateStatus::failed;
        answer.text = reason;
    };
    if (server == nullptr || !server->handler().exports_state()) {
        answer.status = StateStatus::none;
    } else if (auto state = server->handler().export_state(); !state) {
        refuse(state.error().message);
    } else if (state->size() > state_limit_bytes(config)) {
        refuse(std::string(server->handler().name()) + ": its exported state is " + std::to_string(state->size()) +
               " bytes, more than state_handoff_limit (" + std::to_string(config.state_handoff_limit_mb) + " MiB)");
    } else if (auto memfd = state_memfd(*state); !memfd) {
        refuse(memfd.error().message);
    } else {
        answer.status = StateStatus::ok;
        answer.fds.push_back(std::move(*memfd));
        log_info(std::string(server->handler().name()) + " on " + server->listener().bound_text() + ": exported " +
                 std::to_string(state->size()) + " bytes of state for the next generation");
    }
    if (answer.status == StateStatus::failed) log_error("state export: " + answer.text);
    channel.send(answer);
}

}  // namespace

Result<void> import_previous_state(const HandoffChannel &channel, const Servers &servers, const HostConfig &config) {
    if (!channel.open()) return {};
    for (const auto &server : servers) {
        Handler &handler = server->handler();
        if (!handler.imports_state()) continue;
        HandoffMessage wanted;
        wanted.type = HandoffType::state_wanted;
        wanted.listener = static_cast<std::uint32_t>(handler.listener_index());
        if (channel.send(wanted) != HandoffChannel::SendResult::sent)
            return fail("cannot ask the supervisor for the previous state: " + std::string(std::strerror(errno)));
        // The supervisor answers within state_handoff_timeout; ready_timeout bounds it all.
        for (;;) {
            auto received = channel.receive(true);
            if (received.result != HandoffChannel::ReceiveResult::received)
                return fail("no answer from the supervisor about the previous state" +
                            (received.problem.empty() ? std::string() : ": " + received.problem));
            const HandoffMessage &answer = received.message;
            if (answer.type != HandoffType::state || answer.listener != wanted.listener) continue;
            const std::string who = std::string(handler.name()) + " on " + server->listener().bound_text();
            if (answer.status == StateStatus::failed) return fail(who + ": the previous generation's state: " + answer.text);
            if (answer.status == StateStatus::none || answer.fds.empty()) break;
            auto state = read_state_memfd(answer.fds[0].get(), state_limit_bytes(config));
            if (!state) return fail(who + ": " + state.error().message);
            if (auto imported = handler.import_state(*state); !imported) return fail(imported.error().message);
            log_info(who + ": imported " + std::to_string(state->size()) + " bytes of state from the previous generation");
            break;
        }
    }
    return {};
}

void on_handoff_message(const HandoffChannel &channel, const Servers &servers, HandoffMessage message,
                        const HostConfig &config) {
    switch (message.type) {
    case HandoffType::take: {
        Server *server = server_of(servers, message.listener);
        // Not for a listener here (the supervisor knows better), or descriptors missing:
        // dropping it closes them, and the offerer keeps its connections.
        if (server == nullptr || server->handoff() == nullptr || message.fds.size() < 2) return;
        UniqueFd reply = std::move(message.fds.back());
        message.fds.pop_back();
        if (!server->handoff()->enabled()) {
            // This generation's plugin (or listener) does not take connections over: the
            // offerer ends them as it would without handoff.
            message.fds.clear();
            answer_offer(reply.get(), kCloseByte);
            return;
        }
        if (message.fds.size() == 1) {
            server->handoff()->queue({std::move(message.fds[0]), std::move(reply), std::move(message.unread),
                                      std::move(message.connection_state)});
            return;
        }
        // A batch: connections with nothing unread, parked here at once.
        std::string problem;
        auto states = decode_batch_states(message.connection_state, message.fds.size(), problem);
        if (!problem.empty() || !message.unread.empty()) {
            const std::size_t count = message.fds.size();
            message.fds.clear();  // before the log line: its offerer keeps them
            log_warning("handoff channel: ignored a batch of " + std::to_string(count) + " connections: " +
                        (problem.empty() ? std::string("it has unread bytes") : problem));
            return;
        }
        std::vector<ParkedConnection> batch;
        batch.reserve(message.fds.size());
        for (std::size_t index = 0; index < message.fds.size(); ++index)
            batch.push_back({std::move(message.fds[index]), std::move(states[index])});
        if (server->handoff()->park_batch(std::move(batch))) answer_offer(reply.get(), kTakenByte);
        return;
    }
    case HandoffType::export_state: answer_export(channel, servers, message, config); return;
    default: return;  // not for a serving worker: dropped with its descriptors
    }
}

}  // namespace sockhost
