// The handoff's two ends in one process: an offer is answered by its taker, by a refusal,
// or by the death of whoever held it; and the channel never leaks a descriptor, whatever
// arrives on it.
#include <sockhost/host/shared/handoff_channel.hpp>
#include <sockhost/host/worker/connection_handoff.hpp>
#include <sockhost/host/worker/io_waiter.hpp>
#include <sockhost/host/worker/parked_handover.hpp>

#include <gtest/gtest.h>

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <chrono>
#include <future>
#include <thread>
#include <vector>
#include <string>

namespace {

using namespace sockhost;

int open_fds() {
    int count = 0;
    if (DIR *dir = ::opendir("/proc/self/fd")) {
        while (const dirent *entry = ::readdir(dir)) count += entry->d_name[0] != '.';
        ::closedir(dir);
    }
    return count;
}

struct Sides {
    Sides() {
        auto pair = HandoffChannel::make_pair();
        EXPECT_TRUE(pair);
        supervisor = HandoffChannel(std::move(pair->first));
        worker = HandoffChannel(std::move(pair->second));
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        client = UniqueFd(fds[0]);
        connection = UniqueFd(fds[1]);
        auto made = ConnectionHandoff::create(worker, 3, true);
        EXPECT_TRUE(made);
        handoff = std::move(*made);
    }
    // Offers the connection from another thread, as a request would.
    std::future<ConnectionHandoff::Offered> offer() {
        return std::async(std::launch::async, [this] { return handoff->offer(connection.get(), "GE", "login=ann", waiter); });
    }
    HandoffMessage received_offer() const {
        auto received = supervisor.receive(true);
        EXPECT_EQ(received.result, HandoffChannel::ReceiveResult::received) << received.problem;
        return std::move(received.message);
    }

    UniqueFd cancel_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    UniqueFd stop_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    BlockingWaiter waiter{cancel_fd.get(), stop_fd.get()};
    HandoffChannel supervisor;
    HandoffChannel worker;
    UniqueFd client;
    UniqueFd connection;
    std::unique_ptr<ConnectionHandoff> handoff;
};

TEST(ConnectionHandoff, AnOfferCarriesTheConnectionItsUnreadBytesAndItsState) {
    Sides sides;
    auto answer = sides.offer();
    HandoffMessage offer = sides.received_offer();
    EXPECT_EQ(offer.type, HandoffType::offer);
    EXPECT_EQ(offer.listener, 3u);
    EXPECT_EQ(offer.unread, "GE");
    EXPECT_EQ(offer.connection_state, "login=ann");
    ASSERT_EQ(offer.fds.size(), 2u);
    // The descriptor that came is the same connection: what the client sends arrives there.
    ASSERT_EQ(::write(sides.client.get(), "T\n", 2), 2);
    char got[2] = {};
    EXPECT_EQ(::read(offer.fds[0].get(), got, 2), 2);
    ASSERT_EQ(::write(offer.fds[1].get(), &kTakenByte, 1), 1);
    EXPECT_EQ(answer.get(), ConnectionHandoff::Offered::taken);
}

TEST(ConnectionHandoff, ATakerThatDiesBeforeTakingLeavesTheConnectionWithTheOfferer) {
    Sides sides;
    auto answer = sides.offer();
    HandoffMessage offer = sides.received_offer();
    offer.fds.clear();  // every copy of the reply pipe's write end closes, as at a death
    EXPECT_EQ(answer.get(), ConnectionHandoff::Offered::not_taken);
    // The offerer's connection works as before.
    ASSERT_EQ(::write(sides.client.get(), "x", 1), 1);
    char got = 0;
    EXPECT_EQ(::read(sides.connection.get(), &got, 1), 1);
}

TEST(ConnectionHandoff, ARefusalEndsTheConnectionAsWithoutHandoff) {
    Sides sides;
    auto answer = sides.offer();
    HandoffMessage offer = sides.received_offer();
    ASSERT_EQ(offer.fds.size(), 2u);
    ASSERT_EQ(::write(offer.fds[1].get(), &kCloseByte, 1), 1);
    EXPECT_EQ(answer.get(), ConnectionHandoff::Offered::close);
}

TEST(ConnectionHandoff, TheDrainDeadlineEndsTheWaitAndTheConnectionIsOnlyClosedHere) {
    Sides sides;
    auto answer = sides.offer();
    HandoffMessage offer = sides.received_offer();  // held, as by a taker whose loop is busy
    ::eventfd_write(sides.cancel_fd.get(), 1);
    EXPECT_EQ(answer.get(), ConnectionHandoff::Offered::taken) << "it may still be taken over there";
}

TEST(ConnectionHandoff, WithoutTheOptInNothingIsOffered) {
    Sides sides;
    auto made = ConnectionHandoff::create(sides.worker, 0, false);
    ASSERT_TRUE(made);
    EXPECT_FALSE((*made)->enabled());
    EXPECT_EQ((*made)->offer(sides.connection.get(), "", "", sides.waiter), ConnectionHandoff::Offered::close);
    EXPECT_EQ(sides.supervisor.receive().result, HandoffChannel::ReceiveResult::would_block);
}

TEST(ConnectionHandoff, HandedOverConnectionsQueueUntilTheLoopTakesThem) {
    Sides sides;
    EXPECT_FALSE(sides.handoff->take_handed_over());
    sides.handoff->queue({std::move(sides.connection), {}, "un", "read"});
    auto taken = sides.handoff->take_handed_over();
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->unread, "un");
    EXPECT_FALSE(sides.handoff->take_handed_over()) << "one count per queued connection";
}

// A stop drops what was queued and not taken; its loop, still running its last requests,
// must not find the queue readable for ever (an event loop would spin on it).
TEST(ConnectionHandoff, AStopLeavesTheQueueUnreadable) {
    Sides sides;
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    UniqueFd reply_read(fds[0]);
    sides.handoff->queue({std::move(sides.connection), UniqueFd(fds[1]), "un", ""});
    pollfd queue{sides.handoff->queue_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&queue, 1, 0), 1);
    sides.handoff->refuse_from_now();
    EXPECT_EQ(::poll(&queue, 1, 0), 0) << "nothing is queued any more";
    char byte = 'x';
    EXPECT_EQ(::read(reply_read.get(), &byte, 1), 0) << "its offerer sees end of file and keeps it";
    EXPECT_FALSE(sides.handoff->take_handed_over());
}

// A connected pair: the client's end, and the end a worker would hold.
std::pair<UniqueFd, UniqueFd> stream_pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// What an offer's reply socket says, as its offerer reads it: the byte, or 0 at end of file.
char reply_byte(int reply_read) {
    pollfd set{reply_read, POLLIN, 0};
    if (::poll(&set, 1, 2000) != 1) return '?';
    char byte = 0;
    return ::read(reply_read, &byte, 1) == 1 ? byte : 0;
}

// A taken connection with nothing unread is answered at once and parked: no request until
// its client sends a byte, and then one for the loop.
TEST(ConnectionHandoff, AConnectionWithNothingUnreadIsTakenAtOnceAndParkedUntilItsClientSpeaks) {
    Sides sides;
    auto [reply_read, reply_write] = stream_pair();
    sides.handoff->queue({std::move(sides.connection), std::move(reply_write), "", "login=ann"});
    EXPECT_EQ(reply_byte(reply_read.get()), kTakenByte) << "answered before the loop took anything";
    EXPECT_EQ(sides.handoff->parked(), 1u);
    EXPECT_FALSE(sides.handoff->take_handed_over()) << "nothing for the loop while it is silent";
    pollfd parked{sides.handoff->parked_fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&parked, 1, 0), 0);
    ASSERT_EQ(::write(sides.client.get(), "G", 1), 1);
    ASSERT_EQ(::poll(&parked, 1, 2000), 1) << "the parked set is readable once the client speaks";
    sides.handoff->wake_parked();
    EXPECT_EQ(sides.handoff->parked(), 0u);
    auto taken = sides.handoff->take_handed_over();
    ASSERT_TRUE(taken);
    EXPECT_TRUE(taken->held);
    EXPECT_FALSE(taken->reply) << "answered already";
    EXPECT_EQ(taken->connection_state, "login=ann");
    char byte = 0;
    EXPECT_EQ(::read(taken->connection.get(), &byte, 1), 1) << "the byte waits in the socket for the request";
    EXPECT_EQ(::poll(&parked, 1, 0), 0) << "no longer watched";
}

// A parked connection whose client spoke waits in the queue for the loop; a drain that
// comes first keeps it (it is this worker's, answered already) to hand it on with the rest.
TEST(ConnectionHandoff, AStopKeepsHeldConnectionsTheLoopHasNotTakenForTheHandover) {
    Sides sides;
    auto [reply_read, reply_write] = stream_pair();
    sides.handoff->queue({std::move(sides.connection), std::move(reply_write), "", "login=ann"});
    ASSERT_EQ(::write(sides.client.get(), "G", 1), 1);
    pollfd parked{sides.handoff->parked_fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&parked, 1, 2000), 1);
    sides.handoff->wake_parked();
    ASSERT_EQ(sides.handoff->parked(), 0u) << "queued for the loop";
    sides.handoff->refuse_from_now();
    EXPECT_FALSE(sides.handoff->take_handed_over());
    auto held = sides.handoff->take_held();
    ASSERT_EQ(held.size(), 1u) << "not dropped: nobody else has it";
    EXPECT_EQ(held[0].connection_state, "login=ann");
    char byte = 0;
    EXPECT_EQ(::recv(held[0].connection.get(), &byte, 1, MSG_PEEK), 1) << "its request waits in the socket";
}

// A parked connection is idle like a request waiting for its next byte: the listener's
// `timeout` ends it (counted from its takeover); one whose client spoke in time goes on.
TEST(ConnectionHandoff, AParkedConnectionEndsAtTheListenersTimeout) {
    Sides sides;
    auto made = ConnectionHandoff::create(sides.worker, 3, true, std::chrono::milliseconds(100));
    ASSERT_TRUE(made);
    auto &handoff = **made;
    auto [speaks, speaks_here] = stream_pair();
    auto [reply_read, reply_write] = stream_pair();
    auto [other_read, other_write] = stream_pair();
    handoff.queue({std::move(sides.connection), std::move(reply_write), "", ""});
    handoff.queue({std::move(speaks_here), std::move(other_write), "", ""});
    ASSERT_EQ(handoff.parked(), 2u);
    const auto expiry = handoff.next_idle_expiry();
    ASSERT_TRUE(expiry);
    EXPECT_LE(*expiry, Clock::now() + std::chrono::milliseconds(100));
    ASSERT_EQ(::write(speaks.get(), "G", 1), 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    handoff.wake_parked();  // it spoke before its time was up
    handoff.close_idle_expired(Clock::now());
    EXPECT_EQ(handoff.parked(), 1u) << "not yet";
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    handoff.close_idle_expired(Clock::now());
    EXPECT_EQ(handoff.parked(), 0u);
    EXPECT_FALSE(handoff.next_idle_expiry());
    char byte = 0;
    EXPECT_EQ(::read(sides.client.get(), &byte, 1), 0) << "end of input, as at an idle timeout";
    EXPECT_TRUE(handoff.take_handed_over()) << "the one that spoke is the loop's";
}

// A busy client's next request may be in the socket already when its connection is taken:
// it goes to the loop at once, answered, without waiting in the parked set.
TEST(ConnectionHandoff, AConnectionWhoseClientAlreadySpokeGoesStraightToTheLoop) {
    Sides sides;
    auto [reply_read, reply_write] = stream_pair();
    ASSERT_EQ(::write(sides.client.get(), "G", 1), 1);
    sides.handoff->queue({std::move(sides.connection), std::move(reply_write), "", "login=ann"});
    EXPECT_EQ(reply_byte(reply_read.get()), kTakenByte);
    EXPECT_EQ(sides.handoff->parked(), 0u);
    auto taken = sides.handoff->take_handed_over();
    ASSERT_TRUE(taken);
    EXPECT_TRUE(taken->held);
    EXPECT_EQ(taken->connection_state, "login=ann");
    char byte = 0;
    EXPECT_EQ(::read(taken->connection.get(), &byte, 1), 1) << "only peeked at";
}

// Offered with one reply socket for many, from a draining worker's main thread; no answer
// (the taker died) means offered again; 'T' means they are the taker's now.
TEST(ParkedHandover, HeldConnectionsGoInBatchesAndAreOfferedAgainUntilTaken) {
    Sides sides;
    const int before = open_fds();
    constexpr std::size_t kHeld = HandoffChannel::kMaxBatch + 6;
    std::vector<UniqueFd> clients;
    std::vector<ParkedConnection> batch;
    for (std::size_t index = 0; index < kHeld; ++index) {
        auto [client, connection] = stream_pair();
        clients.push_back(std::move(client));
        batch.push_back({std::move(connection), "state-" + std::to_string(index)});
    }
    ASSERT_TRUE(sides.handoff->park_batch(std::move(batch)));
    sides.handoff->refuse_from_now();  // as at a drain: what is held stays held
    EXPECT_EQ(sides.handoff->parked(), kHeld);
    auto handing = std::async(std::launch::async, [&] {
        hand_over_held_connections(sides.worker, {sides.handoff.get()}, Clock::now() + std::chrono::seconds(10),
                                   [] { return false; });
    });
    // First round: both batches dropped unanswered, as by a taker that died with them.
    std::size_t offered = 0;
    std::vector<std::size_t> sizes;
    while (offered < kHeld) {
        HandoffMessage offer = sides.received_offer();
        ASSERT_EQ(offer.type, HandoffType::offer);
        ASSERT_GE(offer.fds.size(), 2u);
        sizes.push_back(offer.fds.size() - 1);
        offered += offer.fds.size() - 1;
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{HandoffChannel::kMaxBatch, 6}));
    const auto dropped_at = Clock::now();
    // Offered again; taken this time.
    std::vector<UniqueFd> taken(kHeld);  // by the index its state names (no order is promised)
    for (offered = 0; offered < kHeld;) {
        HandoffMessage offer = sides.received_offer();
        ASSERT_GE(offer.fds.size(), 2u);
        const std::size_t count = offer.fds.size() - 1;
        std::string problem;
        const auto states = decode_batch_states(offer.connection_state, count, problem);
        ASSERT_EQ(problem, "");
        for (std::size_t index = 0; index < count; ++index) {
            ASSERT_EQ(states[index].rfind("state-", 0), 0u) << states[index];
            const std::size_t client = std::stoul(states[index].substr(6));
            ASSERT_LT(client, kHeld);
            EXPECT_FALSE(taken[client]) << "offered once";
            taken[client] = std::move(offer.fds[index]);
        }
        offered += count;
        answer_offer(offer.fds.back().get(), kTakenByte);
    }
    EXPECT_GE(Clock::now() - dropped_at, std::chrono::milliseconds(200)) << "not offered again at once";
    handing.get();
    EXPECT_EQ(sides.handoff->parked(), 0u);
    // Each connection works through the taker's copy; the offerer kept none.
    for (std::size_t index = 0; index < kHeld; ++index) {
        ASSERT_EQ(::write(clients[index].get(), "x", 1), 1);
        char byte = 0;
        pollfd readable{taken[index].get(), POLLIN, 0};
        ASSERT_EQ(::poll(&readable, 1, 2000), 1);
        EXPECT_EQ(::read(taken[index].get(), &byte, 1), 1);
    }
    taken.clear();
    for (auto &client : clients) {
        char byte = 0;
        EXPECT_EQ(::read(client.get(), &byte, 1), 0) << "end of file: the offerer closed its copy, the taker its own";
    }
    clients.clear();
    EXPECT_EQ(open_fds(), before - 1) << "nothing left open but the parked set, which the handover closed";
}

// A next generation that does not take this listener's connections answers 'C': they end
// here, as without handoff. One nobody answers ends at the deadline.
TEST(ParkedHandover, RefusedOrUnansweredConnectionsEndHere) {
    for (const bool answered : {true, false}) {
        SCOPED_TRACE(answered ? "refused" : "never answered");
        Sides sides;
        std::vector<ParkedConnection> one;
        one.push_back({std::move(sides.connection), ""});
        ASSERT_TRUE(sides.handoff->park_batch(std::move(one)));
        sides.handoff->refuse_from_now();
        auto handing = std::async(std::launch::async, [&] {
            hand_over_held_connections(sides.worker, {sides.handoff.get()}, Clock::now() + std::chrono::milliseconds(500),
                                       [] { return false; });
        });
        HandoffMessage offer = sides.received_offer();
        ASSERT_EQ(offer.fds.size(), 2u) << "one connection and its reply";
        EXPECT_EQ(offer.connection_state, "") << "a batch of one carries its state as it is";
        if (answered) {
            offer.fds[0].reset();
            answer_offer(offer.fds[1].get(), kCloseByte);
        }
        handing.get();
        offer.fds.clear();
        char byte = 0;
        pollfd readable{sides.client.get(), POLLIN, 0};
        ASSERT_EQ(::poll(&readable, 1, 2000), 1);
        EXPECT_EQ(::read(sides.client.get(), &byte, 1), 0) << "end of input for the client";
    }
}

TEST(HandoffChannel, BatchStatesDecodeExactlyOrNotAtAll) {
    const std::vector<std::string> states{"", "a", std::string(300, 'z')};
    const std::string encoded = encode_batch_states(states);
    std::string problem;
    EXPECT_EQ(decode_batch_states(encoded, 3, problem), states);
    EXPECT_EQ(problem, "");
    for (const auto &[bytes, count] : std::vector<std::pair<std::string, std::size_t>>{
             {encoded, 4}, {encoded, 2}, {encoded.substr(0, encoded.size() - 1), 3}, {std::string("\xff\xff\xff\xff"), 1}}) {
        problem.clear();
        EXPECT_TRUE(decode_batch_states(bytes, count, problem).empty());
        EXPECT_NE(problem, "") << count;
    }
}

TEST(HandoffChannel, MalformedMessagesAreRefusedAndTheirDescriptorsClosed) {
    Sides sides;
    const int before = open_fds();
    int raw[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, raw), 0);
    UniqueFd writer(raw[0]);
    HandoffChannel reader{UniqueFd(raw[1])};
    const auto send_with_fd = [&](const std::string &bytes) {
        iovec part{const_cast<char *>(bytes.data()), bytes.size()};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
        msghdr packet{};
        packet.msg_iov = &part;
        packet.msg_iovlen = 1;
        packet.msg_control = control;
        packet.msg_controllen = sizeof control;
        cmsghdr *attached = CMSG_FIRSTHDR(&packet);
        attached->cmsg_level = SOL_SOCKET;
        attached->cmsg_type = SCM_RIGHTS;
        attached->cmsg_len = CMSG_LEN(sizeof(int));
        const int shared = sides.client.get();
        std::memcpy(CMSG_DATA(attached), &shared, sizeof shared);
        ASSERT_GE(::sendmsg(writer.get(), &packet, 0), 0);
    };
    for (const std::string &bytes : {std::string("short"), std::string(40, '\xff'), std::string(40, '\0')}) {
        send_with_fd(bytes);
        auto received = reader.receive(true);
        EXPECT_EQ(received.result, HandoffChannel::ReceiveResult::malformed);
        EXPECT_FALSE(received.problem.empty());
        EXPECT_TRUE(received.message.fds.empty());
    }
    writer.reset();
    EXPECT_EQ(reader.receive(true).result, HandoffChannel::ReceiveResult::closed);
    reader.close();
    EXPECT_EQ(open_fds(), before) << "nothing that came with a bad message stayed open";
}

}  // namespace
