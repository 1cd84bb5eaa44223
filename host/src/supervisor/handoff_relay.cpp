// The supervisor's side of the handoff (shared/handoff_channel.hpp): it reads every
// worker's handoff channel and relays. An idle connection offered by a draining worker
// goes to a worker of the serving generation that serves the same listener with the same
// plugin; a starting worker's request for its listener's previous state goes to a serving
// worker as an export, and the answer back. It never reads a connection or a state, holds
// a descriptor only until its message is sent, and keeps no table of offers: each offer's
// reply pipe answers itself when a taker dies.
#include "supervisor.hpp"

#include <sockhost/host/shared/log.hpp>

#include <unistd.h>

#include <algorithm>

namespace sockhost {

namespace {

// Ends an offer that cannot move: the offerer then ends the connection as without handoff.
void answer_close(HandoffMessage &offer) {
    if (offer.fds.size() < 2) return;
    // Our copies of the connections go first: the offerer's are the last.
    UniqueFd reply = std::move(offer.fds.back());
    offer.fds.clear();
    answer_offer(reply.get(), kCloseByte);
}

std::optional<std::size_t> route_index(const Generation &generation, const std::string &key) {
    for (std::size_t index = 0; index < generation.routes.size(); ++index)
        if (generation.routes[index].key == key) return index;
    return std::nullopt;
}

// The workers of `generation` that serve `group` and may be sent work now.
std::vector<Worker *> live_workers_of(Generation &generation, std::size_t group, pid_t except) {
    std::vector<Worker *> found;
    for (auto &worker : generation.workers)
        if (worker.group == group && worker.ready && !worker.draining && !worker.drain_sent && worker.process.pid() > 0 &&
            worker.process.pid() != except && worker.handoff.open())
            found.push_back(&worker);
    return found;
}

}  // namespace

void Supervisor::send_to_worker(Worker &worker, HandoffMessage message) {
    // Dropped when it cannot go (the worker closed its end, or its outbox is full because it
    // does not read): its descriptors close here, which answers an offer by itself.
    if (!worker.handoff.open()) return;
    if (worker.outbox.empty() && worker.handoff.send(message, false) != HandoffChannel::SendResult::would_block) return;
    // A batch brings up to 65 descriptors: fewer of those wait, so that a taker that does
    // not read holds at most about 16,000 of ours (4,096 offers of 2, and 128 batches).
    if (worker.outbox.size() >= (message.fds.size() > 2 ? kMaxOutbox / 32 : kMaxOutbox)) return;
    worker.outbox.push_back(std::move(message));
}

void Supervisor::flush_outboxes() {
    generations_.for_each([](Generation &generation) {
        for (auto &worker : generation.workers) {
            while (!worker.outbox.empty() && worker.handoff.open()) {
                const auto sent = worker.handoff.send(worker.outbox.front(), false);
                if (sent == HandoffChannel::SendResult::would_block) break;
                worker.outbox.pop_front();
            }
            if (!worker.handoff.open()) worker.outbox.clear();
        }
        // Replaced workers are sent nothing more; what was queued for them goes back.
        for (auto &worker : generation.retiring) worker.outbox.clear();
    });
}

void Supervisor::on_handoff_messages() {
    // Each generation's workers and its retired ones, read until they have nothing more.
    std::vector<std::pair<Generation *, Worker *>> senders;
    generations_.for_each([&](Generation &generation) {
        for (auto &worker : generation.workers) senders.emplace_back(&generation, &worker);
        for (auto &worker : generation.retiring) senders.emplace_back(&generation, &worker);
    });
    for (auto [generation, worker] : senders) {
        for (int budget = 256; budget > 0 && worker->handoff.open(); --budget) {
            auto received = worker->handoff.receive();
            if (received.result == HandoffChannel::ReceiveResult::would_block) break;
            if (received.result == HandoffChannel::ReceiveResult::closed) {
                worker->handoff.close();
                worker->outbox.clear();
                break;
            }
            if (received.result == HandoffChannel::ReceiveResult::malformed) {
                log_warning(generation->describe(*worker, worker->process.pid()) + ": handoff channel: ignored " +
                            received.problem);
                continue;
            }
            on_handoff_message(*generation, *worker, std::move(received.message));
        }
    }
    expire_exports();
    flush_outboxes();
}

void Supervisor::on_handoff_message(Generation &generation, Worker &worker, HandoffMessage message) {
    switch (message.type) {
    case HandoffType::offer: return relay_offer(generation, worker, std::move(message));
    case HandoffType::state_wanted: return ask_for_state(generation, worker, message.listener);
    case HandoffType::exported: return relay_exported(worker, std::move(message));
    default:
        log_warning(generation.describe(worker, worker.process.pid()) + ": handoff channel: ignored a message "
                    "a worker does not send");
    }
}

void Supervisor::relay_offer(Generation &from, Worker &offerer, HandoffMessage offer) {
    // Connections and their reply socket (a batch: many connections, one reply); anything
    // else is no offer the worker side makes, and its fds close.
    if (offer.fds.size() < 2) return;
    if (offer.fds.size() > 2 && !offer.unread.empty()) {
        log_warning(from.describe(offerer, offerer.process.pid()) + ": handoff channel: refused a batch of " +
                    std::to_string(offer.fds.size() - 1) + " connections with unread bytes, which no worker sends");
        return;
    }
    Generation *to = generations_.serving.get();
    // Only a worker told to drain offers, and only its own group's listeners: a worker runs
    // plugin code, and must not pass connections off as another plugin's.
    if (offer.listener >= from.routes.size() || from.routes[offer.listener].group != offerer.group ||
        !offerer.drain_sent) {
        log_warning(from.describe(offerer, offerer.process.pid()) + ": handoff channel: refused an offer for listener " +
                    std::to_string(offer.listener) + ", which it may not offer now");
        return;
    }
    if (stopping() || to == nullptr) return answer_close(offer);
    const HandoffRoute &source = from.routes[offer.listener];
    const auto target = route_index(*to, source.key);
    // Gone from the configuration, served by another plugin now, or handoff turned off.
    if (!target || to->routes[*target].plugin != source.plugin || !to->routes[*target].handoff)
        return answer_close(offer);
    auto takers = live_workers_of(*to, to->routes[*target].group, offerer.process.pid());
    if (takers.empty()) return;  // none ready now: the offerer keeps it and offers it again
    Worker &taker = *takers[to->next_taker++ % takers.size()];
    offer.type = HandoffType::take;
    offer.listener = static_cast<std::uint32_t>(*target);
    send_to_worker(taker, std::move(offer));
}

void Supervisor::ask_for_state(Generation &generation, Worker &asker, std::uint32_t listener) {
    HandoffMessage answer;
    answer.type = HandoffType::state;
    answer.listener = listener;
    answer.status = StateStatus::none;
    Generation *serving = generations_.serving.get();
    // Only a new generation takes state over; a worker that replaces one starts afresh.
    if (listener >= generation.routes.size() || generation.routes[listener].group != asker.group) {
        log_warning(generation.describe(asker, asker.process.pid()) + ": handoff channel: refused to export listener " +
                    std::to_string(listener) + "'s state, which is not its own");
        return;
    }
    const bool already_asked = std::any_of(pending_exports_.begin(), pending_exports_.end(), [&](const PendingExport &pending) {
        return pending.asker == asker.process.pid() && pending.listener == listener;
    });
    if (already_asked) return;
    if (&generation != generations_.starting.get() || serving == nullptr) return send_to_worker(asker, std::move(answer));
    const HandoffRoute &route = generation.routes[listener];
    const auto source = route_index(*serving, route.key);
    if (!source || serving->routes[*source].plugin != route.plugin) return send_to_worker(asker, std::move(answer));
    auto exporters = live_workers_of(*serving, serving->routes[*source].group, 0);
    if (exporters.empty()) {
        log_warning(generation.describe(asker, asker.process.pid()) + ": no worker of " + serving->name() +
                    " serves plugin " + route.plugin + " now to export its state; it starts without it");
        return send_to_worker(asker, std::move(answer));
    }
    // The k-th worker of a group takes the state of the k-th before it (state is each
    // worker's own); with fewer before, they are taken round.
    std::size_t position = 0;
    for (const auto &sibling : generation.workers) {
        if (&sibling == &asker) break;
        if (sibling.group == asker.group) ++position;
    }
    Worker &exporter = *exporters[position % exporters.size()];
    HandoffMessage request;
    request.type = HandoffType::export_state;
    request.listener = static_cast<std::uint32_t>(*source);
    request.id = next_export_id_++;
    pending_exports_.push_back({request.id, asker.process.pid(), listener, exporter.process.pid(), request.listener,
                                Clock::now() + pending_.config.state_handoff_timeout});
    send_to_worker(exporter, std::move(request));
}

Worker *Supervisor::worker_with_pid(pid_t pid) {
    Worker *found = nullptr;
    if (pid <= 0) return nullptr;
    generations_.for_each([&](Generation &generation) {
        for (auto &worker : generation.workers)
            if (worker.process.pid() == pid) found = &worker;
    });
    return found;
}

void Supervisor::answer_export(const PendingExport &pending, HandoffMessage answer) {
    Worker *asker = worker_with_pid(pending.asker);
    if (asker == nullptr) return;  // it is gone; so is the start it was part of
    answer.type = HandoffType::state;
    answer.listener = pending.listener;
    answer.id = 0;
    send_to_worker(*asker, std::move(answer));
}

void Supervisor::relay_exported(const Worker &exporter, HandoffMessage exported) {
    // Only the worker asked answers, for the listener it was asked about.
    const auto pending = std::find_if(pending_exports_.begin(), pending_exports_.end(), [&](const PendingExport &candidate) {
        return candidate.id == exported.id && candidate.exporter == exporter.process.pid() &&
               candidate.exported_listener == exported.listener;
    });
    if (pending == pending_exports_.end()) return;  // timed out already: answered
    const PendingExport done = *pending;
    pending_exports_.erase(pending);
    if (exported.status == StateStatus::ok && exported.fds.size() != 1) {
        exported.status = StateStatus::failed;
        exported.text = "the export came without its state";
        exported.fds.clear();
    }
    answer_export(done, std::move(exported));
}

void Supervisor::expire_exports() {
    const auto now = Clock::now();
    for (auto pending = pending_exports_.begin(); pending != pending_exports_.end();) {
        std::string reason;
        if (now >= pending->deadline)
            reason = "the previous generation's worker did not export its state within state_handoff_timeout (" +
                     duration_text(pending_.config.state_handoff_timeout) + ")";
        else if (const Worker *exporter = worker_with_pid(pending->exporter); exporter == nullptr || !exporter->handoff.open())
            reason = "the previous generation's worker exited before it exported its state";
        if (reason.empty()) {
            ++pending;
            continue;
        }
        HandoffMessage answer;
        answer.status = StateStatus::failed;
        answer.text = reason;
        const PendingExport expired = *pending;
        pending = pending_exports_.erase(pending);
        answer_export(expired, std::move(answer));
    }
}

std::optional<Clock::time_point> Supervisor::next_export_deadline() const {
    std::optional<Clock::time_point> next;
    for (const auto &pending : pending_exports_)
        if (!next || pending.deadline < *next) next = pending.deadline;
    return next;
}

}  // namespace sockhost
