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

#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace sockhost {
namespace {

void record(ActivitySlot &slot, pid_t pid, int listener, Hook hook, std::int64_t since) {
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(4321);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::memcpy(slot.peer, &peer, sizeof peer);
    slot.peer_length = sizeof peer;
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
            std::memcpy(slot.peer, &family, sizeof family);
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

}  // namespace
}  // namespace sockhost
