// The handoff's two ends in one process: an offer is answered by its taker, by a refusal,
// or by the death of whoever held it; and the channel never leaks a descriptor, whatever
// arrives on it.
#include <sockhost/host/shared/handoff_channel.hpp>
#include <sockhost/host/worker/connection_handoff.hpp>
#include <sockhost/host/worker/io_waiter.hpp>

#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>
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
