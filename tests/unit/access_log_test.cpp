// The access log's file and lines: how it is opened, what a line holds (valid JSON whatever
// the peer's bytes), and that a writer which cannot keep up drops lines and counts them,
// and loses none it did not count.
#include "temp_dir.hpp"

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/worker/access_log.hpp>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>

namespace sockhost::test {
namespace {

SocketAddress unix_peer(const std::string &path) {
    SocketAddress address;
    auto &unix_address = reinterpret_cast<sockaddr_un &>(address.storage);
    unix_address.sun_family = AF_UNIX;
    std::memcpy(unix_address.sun_path, path.data(), path.size());
    address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return address;
}

TEST(AccessLogFile, RefusesASymbolicLinkAndNamesTheListener) {
    TempDir dir;
    const auto link = dir.path() / "link.log";
    std::filesystem::create_symlink(dir.path() / "target.log", link);
    auto log = AccessLog::open(link.string(), "tcp://127.0.0.1:8000");
    ASSERT_FALSE(log);
    EXPECT_NE(log.error().message.find("tcp://127.0.0.1:8000"), std::string::npos) << log.error().message;
    EXPECT_NE(log.error().message.find("link.log"), std::string::npos) << log.error().message;
    EXPECT_NE(log.error().message.find("symbolic link"), std::string::npos) << log.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "target.log"));
}

TEST(AccessLogFile, IsCreatedWithMode0640) {
    TempDir dir;
    const auto path = dir.path() / "access.log";
    const mode_t old_mask = ::umask(0);
    auto log = AccessLog::open(path.string(), "tcp://127.0.0.1:8000");
    ::umask(old_mask);
    ASSERT_TRUE(log) << log.error().message;
    struct stat status {};
    ASSERT_EQ(::stat(path.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 07777, 0640u);
}

TEST(AccessLogFile, ALineIsJsonWithEveryFieldEvenForAPeerPathThatIsNotUtf8) {
    const SocketAddress peer = unix_peer("/tmp/a\"b\\c\xff.sock");
    const std::string listener = "unix:/run/x.sock", plugin = "echo";
    const std::string line = format_access_log_line({&peer, &listener, &plugin, "timeout", 0.000095, 12, 34}, 1500);
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);  // one line
    const auto parsed = nlohmann::json::parse(line);
    EXPECT_EQ(parsed.at("time"), "1970-01-01T00:00:01.500Z");
    EXPECT_EQ(parsed.at("peer"), "unix:/tmp/a\"b\\c\xef\xbf\xbd.sock");  // the bad byte as U+FFFD
    EXPECT_EQ(parsed.at("listener"), listener);
    EXPECT_EQ(parsed.at("plugin"), plugin);
    EXPECT_EQ(parsed.at("outcome"), "timeout");
    EXPECT_DOUBLE_EQ(parsed.at("duration").get<double>(), 0.000095);
    EXPECT_EQ(parsed.at("received"), 12);
    EXPECT_EQ(parsed.at("sent"), 34);
    // The order of the fields is the documented one (docs/operations.md).
    EXPECT_EQ(line.rfind("{\"time\":", 0), 0u) << line;
    EXPECT_LT(line.find("\"received\""), line.find("\"sent\""));
}

TEST(AccessLogFile, AnInetPeerIsWrittenAsItIs) {
    SocketAddress peer;
    auto &inet = reinterpret_cast<sockaddr_in &>(peer.storage);
    inet.sin_family = AF_INET;
    inet.sin_port = htons(41069);
    inet.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    peer.length = sizeof inet;
    const std::string listener = "tcp://127.0.0.1:0", plugin = "http";
    const auto parsed = nlohmann::json::parse(format_access_log_line({&peer, &listener, &plugin, "ok", 1.5, 0, 0}, 0));
    EXPECT_EQ(parsed.at("peer"), "127.0.0.1:41069");
    EXPECT_EQ(parsed.at("duration"), 1.5);
}

// The time's text up to the second is cached per thread: it must follow the clock both ways.
TEST(AccessLogFile, TheTimeFollowsTheClockAcrossSeconds) {
    const SocketAddress peer = unix_peer("/p");
    const std::string listener = "unix:/x", plugin = "echo";
    const auto time_of = [&](std::int64_t ms) {
        return nlohmann::json::parse(format_access_log_line({&peer, &listener, &plugin, "ok", 0, 0, 0}, ms))
            .at("time")
            .get<std::string>();
    };
    EXPECT_EQ(time_of(1'999), "1970-01-01T00:00:01.999Z");
    EXPECT_EQ(time_of(2'000), "1970-01-01T00:00:02.000Z");
    EXPECT_EQ(time_of(1'005), "1970-01-01T00:00:01.005Z");
    EXPECT_EQ(time_of(1'796'181'289'185), "2026-12-02T03:14:49.185Z");
}

// The log goes to a FIFO that nobody reads at first: the writer thread blocks in write()
// once the pipe is full, the queue fills, and append() must neither block nor lose a line
// it does not count. Then the reader reads everything: written + dropped = appended.
TEST(AccessLogFile, DropsAndCountsLinesWhenTheWriterCannotKeepUp) {
    TempDir dir;
    const auto path = dir.path() / "access.fifo";
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    const int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(reader, 0);
    auto log = AccessLog::open(path.string(), "tcp://127.0.0.1:0");
    ASSERT_TRUE(log) << log.error().message;
    const std::size_t appended = AccessLog::kQueuedLines * 3;
    const std::string line = std::string(99, 'x') + "\n";
    for (std::size_t at = 0; at < appended; ++at) (*log)->append(line);
    const std::uint64_t dropped = (*log)->dropped();
    EXPECT_GT(dropped, 0u);
    EXPECT_LT(dropped, appended);
    // Read it all while the log's destructor writes what is queued.
    ::fcntl(reader, F_SETFL, 0);
    std::size_t bytes = 0;
    std::thread drain([&] {
        char buffer[65536];
        for (ssize_t count; (count = ::read(reader, buffer, sizeof buffer)) > 0;) bytes += static_cast<std::size_t>(count);
    });
    log->reset();  // writes the queue, closes the FIFO's write end: the reader sees its end
    drain.join();
    ::close(reader);
    EXPECT_EQ(bytes / line.size() + dropped, appended);
    EXPECT_EQ(bytes % line.size(), 0u);
}

}  // namespace
}  // namespace sockhost::test
