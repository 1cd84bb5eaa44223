// The activity table as the supervisor reads it: what a request records comes back, and
// a table a plugin scribbled over yields only entries whose every field is in range.
#include <sockhost/host/shared/worker_activity.hpp>
#include <sockhost/host/worker/io_waiter.hpp>
#include <sockhost/host/worker/request.hpp>
#include <sockhost/host/worker/request_activity.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace sockhost {
namespace {

void record(ActivitySlot &slot, pid_t pid, int listener, Hook hook, std::int64_t since) {
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(4321);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    slot.store_peer(&peer, sizeof peer);
    slot.pid = pid;
    slot.listener = listener;
    slot.hook = static_cast<std::uint32_t>(hook);
    slot.plugin_since_ms = since;
    slot.serial = 1;
}

TEST(WorkerActivity, ARequestInPluginCodeIsReadBackWithItsHookPeerAndTime) {
    auto mapping = ActivityMapping::create();
    ASSERT_TRUE(mapping) << mapping.error().message;
    ActivityTable &table = mapping->table();
    record(table.slots[0], 77, 1, Hook::handle, 1000);
    record(table.slots[1], 77, 0, Hook::setup, 0);  // the host has control: not listed
    table.slots_used = 2;
    const auto found = activities_in_plugin_code(table, 3500, 2);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].pid, 77);
    EXPECT_EQ(found[0].listener, 1);
    EXPECT_EQ(found[0].hook, Hook::handle);
    EXPECT_EQ(found[0].peer, "127.0.0.1:4321");
    EXPECT_EQ(found[0].in_plugin, std::chrono::milliseconds(2500));
    table.slots[0].serial = 2;  // released
    EXPECT_TRUE(activities_in_plugin_code(table, 3500, 2).empty());
}

TEST(WorkerActivity, ScribbledTableYieldsOnlyEntriesInRange) {
    auto mapping = ActivityMapping::create();
    ASSERT_TRUE(mapping) << mapping.error().message;
    ActivityTable &table = mapping->table();
    std::mt19937 random(7);
    std::size_t reported = 0;
    for (int round = 0; round < 200; ++round) {
        auto *bytes = reinterpret_cast<unsigned char *>(&table);
        for (std::size_t index = 0; index < sizeof table; ++index) bytes[index] = static_cast<unsigned char>(random());
        // Half the slots look held and in plugin code, with fields in and out of range and
        // any address bytes: the reader must pass only what is in range.
        for (std::size_t index = 0; index < ActivityTable::kSlots; index += 2) {
            ActivitySlot &slot = table.slots[index];
            slot.serial = 1;
            slot.plugin_since_ms = 1;
            slot.hook = random() % 7;
            slot.listener = static_cast<int>(random() % 5) - 1;
            slot.pid = static_cast<int>(random() % 3) - 1;
            sa_family_t family = (random() % 2) ? AF_UNIX : AF_INET6;
            std::uint64_t first_word = slot.peer_words[0];
            std::memcpy(&first_word, &family, sizeof family);
            slot.peer_words[0] = first_word;
        }
        for (const auto &activity : activities_in_plugin_code(table, 1LL << 40, 3)) {
            ++reported;
            EXPECT_GE(activity.listener, 0);
            EXPECT_LT(activity.listener, 3);
            EXPECT_GT(activity.pid, 0);
            EXPECT_NE(activity.hook, Hook::none);
            EXPECT_LE(static_cast<std::uint32_t>(activity.hook), static_cast<std::uint32_t>(Hook::finish));
            EXPECT_LE(activity.peer.size(), 200u);
            for (const char c : activity.peer) EXPECT_TRUE(c >= 0x20 && c <= 0x7e);
        }
    }
    EXPECT_GT(reported, 0u) << "some slots are in range: the checks above ran";
}

std::size_t slots_held(const ActivityTable &table) {
    std::size_t held = 0;
    for (const auto &slot : table.slots) held += slot.serial.load() % 2;
    return held;
}

// More requests than slots (thousands of idle connections): the ones past the last slot go
// unrecorded, and a slot freed later is taken again by the next request.
TEST(WorkerActivity, RequestsPastTheLastSlotGoUnrecordedUntilOneIsFreed) {
    auto mapping = ActivityMapping::create();
    ASSERT_TRUE(mapping) << mapping.error().message;
    install_activity_table(&mapping->table());
    BlockingWaiter waiter{-1, -1};
    std::vector<std::unique_ptr<DatagramRequest>> requests;
    std::vector<std::unique_ptr<RequestActivity>> activities;
    const auto start_request = [&] {
        requests.push_back(std::make_unique<DatagramRequest>(-1, std::vector<char>{}, Transport::udp, SocketAddress{},
                                                             SocketAddress{}, waiter, std::chrono::milliseconds(0), 0));
        activities.push_back(std::make_unique<RequestActivity>(*requests.back(), 0));
    };
    for (std::size_t index = 0; index < ActivityTable::kSlots + 10; ++index) start_request();
    EXPECT_EQ(slots_held(mapping->table()), ActivityTable::kSlots);
    activities[3].reset();  // a recorded request ends
    EXPECT_EQ(slots_held(mapping->table()), ActivityTable::kSlots - 1);
    start_request();
    EXPECT_EQ(slots_held(mapping->table()), ActivityTable::kSlots) << "the freed slot is taken again";
    start_request();
    EXPECT_EQ(slots_held(mapping->table()), ActivityTable::kSlots);
    activities.clear();
    EXPECT_EQ(slots_held(mapping->table()), 0u);
    install_activity_table(nullptr);
}

// A released slot reads as not in plugin code and as no one's, until its next holder
// writes its own fields: a stale pid would let release_activity_of free the next holder's
// slot when the old pid's request child is reaped.
TEST(WorkerActivity, AReleasedSlotKeepsNoPidHookOrTimeOfItsLastRequest) {
    auto mapping = ActivityMapping::create();
    ASSERT_TRUE(mapping) << mapping.error().message;
    install_activity_table(&mapping->table());
    BlockingWaiter waiter{-1, -1};
    DatagramRequest request(-1, std::vector<char>{}, Transport::udp, SocketAddress{}, SocketAddress{}, waiter,
                            std::chrono::milliseconds(0), 0);
    ActivitySlot *slot = nullptr;
    {
        RequestActivity activity(request, 0);
        activity.enter(Hook::handle);
        for (auto &candidate : mapping->table().slots)
            if (candidate.serial.load() % 2 == 1) slot = &candidate;
        ASSERT_NE(slot, nullptr);
        EXPECT_EQ(slot->pid.load(), ::getpid());
        EXPECT_NE(slot->plugin_since_ms.load(), 0);
    }
    EXPECT_EQ(slot->serial.load() % 2, 0u);
    EXPECT_EQ(slot->pid.load(), 0);
    EXPECT_EQ(slot->hook.load(), 0u);
    EXPECT_EQ(slot->plugin_since_ms.load(), 0);
    install_activity_table(nullptr);
}

// Requests come and go on one thread while another reads the table, as a forking
// listener's loop reads it when it reaps a child beside another listener's loop. The
// sanitizer tree (TSan) fails this when a field is written or read as plain bytes.
TEST(WorkerActivity, ReadingTheTableWhileRequestsComeAndGoIsRaceFree) {
    auto mapping = ActivityMapping::create();
    ASSERT_TRUE(mapping) << mapping.error().message;
    install_activity_table(&mapping->table());
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(4321);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SocketAddress peer;
    std::memcpy(&peer.storage, &address, sizeof address);
    peer.length = sizeof address;
    std::atomic<bool> done{false};
    std::thread requests([&] {
        BlockingWaiter waiter{-1, -1};
        for (int round = 0; round < 20000; ++round) {
            DatagramRequest request(-1, std::vector<char>{}, Transport::udp, peer, SocketAddress{}, waiter,
                                    std::chrono::milliseconds(0), 0);
            RequestActivity activity(request, 0);
            activity.enter(Hook::handle);
        }
        done = true;
    });
    std::size_t seen = 0;
    while (!done) {
        for (const auto &activity : activities_in_plugin_code(mapping->table(), coarse_now_ms() + 10, 1)) {
            ++seen;
            EXPECT_EQ(activity.peer, "127.0.0.1:4321");
        }
        (void)release_activity_of(1);  // no request child of pid 1 holds a slot here
    }
    requests.join();
    EXPECT_EQ(slots_held(mapping->table()), 0u);
    install_activity_table(nullptr);
    (void)seen;  // how many reads met a request depends on scheduling
}

}  // namespace
}  // namespace sockhost
