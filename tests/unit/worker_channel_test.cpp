// The supervisor-worker channel: what a worker writes on its status pipe is what the
// supervisor reads, whole lines only, whatever the pipe splits.
#include <sockhost/host/shared/worker_channel.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace {

using sockhost::UniqueFd;
using sockhost::WorkerStatus;
using sockhost::WorkerStatusReader;

struct StatusPipe {
    StatusPipe() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
        reader = WorkerStatusReader(UniqueFd(fds[0]));
        write_end = UniqueFd(fds[1]);
    }
    void send(const std::string &bytes) { ASSERT_EQ(::write(write_end.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size())); }
    WorkerStatusReader reader;
    UniqueFd write_end;
};

TEST(WorkerChannel, StatusLinesArriveWholeAndInOrder) {
    StatusPipe pipe;
    sockhost::report_status(pipe.write_end.get(), WorkerStatus::ready);
    pipe.send("FAILED plugin x.so: no such");
    auto first = pipe.reader.read_available();
    ASSERT_EQ(first.lines.size(), 1u) << "the half line waits for its newline";
    EXPECT_EQ(first.lines[0].status, WorkerStatus::ready);
    pipe.send(" file\nDRAINING\nNOT-A-STATUS\n");
    auto second = pipe.reader.read_available();
    ASSERT_EQ(second.lines.size(), 2u) << "an unknown word is ignored";
    EXPECT_EQ(second.lines[0].status, WorkerStatus::failed);
    EXPECT_EQ(second.lines[0].reason, "plugin x.so: no such file");
    EXPECT_EQ(second.lines[1].status, WorkerStatus::draining);
    EXPECT_TRUE(pipe.reader.open());
    pipe.write_end.reset();
    EXPECT_TRUE(pipe.reader.read_available().lines.empty());
    EXPECT_FALSE(pipe.reader.open()) << "closed at the worker's end of output";
}

TEST(WorkerChannel, AFailureReasonStaysOnOneLine) {
    StatusPipe pipe;
    sockhost::report_status(pipe.write_end.get(), WorkerStatus::failed, "first\nsecond");
    auto reading = pipe.reader.read_available();
    ASSERT_EQ(reading.lines.size(), 1u);
    EXPECT_EQ(reading.lines[0].reason, "first second");
}

TEST(WorkerChannel, AnEndlessLineIsDiscardedNotBuffered) {
    StatusPipe pipe;
    const std::string chunk(16 * 1024, 'x');
    bool overlong = false;
    for (int round = 0; round < 8 && !overlong; ++round) {
        pipe.send(chunk);
        overlong = pipe.reader.read_available().overlong;
    }
    EXPECT_TRUE(overlong);
    pipe.send("\nREADY\n");
    auto after = pipe.reader.read_available();
    ASSERT_FALSE(after.lines.empty());
    EXPECT_EQ(after.lines.back().status, WorkerStatus::ready) << "the channel goes on after the discarded line";
}

TEST(WorkerChannel, DescriptorLayoutFollowsTheListeners) {
    const sockhost::WorkerFdLayout layout{3};
    EXPECT_EQ(layout.first_listener(), 3);
    EXPECT_EQ(layout.config(), 6);
    EXPECT_EQ(layout.status(), 7);
    EXPECT_EQ(layout.activity(), 8);
    const sockhost::WorkerArguments arguments{2, 1, layout.config(), layout.status(), {0, 4, 5}, layout.activity()};
    const auto argv = arguments.command_line("/usr/sbin/sockhost");
    const std::vector<std::string> expected = {"/usr/sbin/sockhost", "worker", "--generation", "2", "--index", "1",
                                               "--config-fd", "6", "--status-fd", "7", "--listeners", "0,4,5",
                                               "--activity-fd", "8"};
    EXPECT_EQ(argv, expected);
}

}  // namespace
