// The admin endpoint across reloads: a changed `admin` address is bound anew, one that
// cannot be bound leaves the old endpoint answering.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

namespace sockhost::test {
namespace {

void rewrite_admin(const HostUnderTest &host, const std::string &admin) {
    auto config = nlohmann::json::parse(std::ifstream(host.config_path()));
    config["admin"] = admin;
    std::ofstream(host.config_path()) << config.dump();
}

// The address the admin endpoint was bound to, from its start-up log line.
std::string logged_admin_address(const HostUnderTest &host) {
    static const std::regex admin_line("admin endpoint on (\\S+)");
    const std::string text = host.log();
    std::smatch match;
    return std::regex_search(text, match, admin_line) ? match[1].str() : std::string();
}

TEST(AdminEndpoint, ReloadMovesItToTheNewAddressAndClosesTheOld) {
    auto config = probe_on("threading");
    config["admin"] = "unix:admin.sock";
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string old_address = admin_of(host);
    const std::string new_address = "unix:" + (host.dir() / "moved.sock").string();
    ASSERT_EQ(http_get(old_address, "/healthz").status, 200);
    rewrite_admin(host, "unix:moved.sock");
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("admin endpoint moved to")) << host.log();
    EXPECT_EQ(http_get(new_address, "/healthz").status, 200) << host.log();
    EXPECT_EQ(http_get(new_address, "/readyz").status, 200) << host.log();
    EXPECT_THROW(connect_stream(old_address), std::runtime_error) << "the old admin socket still accepts";
    EXPECT_FALSE(std::filesystem::exists(host.dir() / "admin.sock"));
}

TEST(AdminEndpoint, ReloadToAnAddressThatCannotBeBoundKeepsTheOldOneAnswering) {
    auto config = probe_on("threading");
    config["admin"] = "tcp://127.0.0.1:0";  // the old one's port is the kernel's choice
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string old_address = logged_admin_address(host);
    ASSERT_FALSE(old_address.empty()) << host.log();
    ASSERT_EQ(http_get(old_address, "/healthz").status, 200);
    rewrite_admin(host, "unix:no-such-directory/admin.sock");
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("the admin endpoint stays on " + old_address)) << host.log();
    EXPECT_NE(host.log().find("admin unix:"), std::string::npos) << host.log();
    // The reload itself succeeded; the endpoint answers where it was.
    EXPECT_TRUE(host.wait_for_log("reload: generation 2 is serving")) << host.log();
    EXPECT_EQ(http_get(old_address, "/healthz").status, 200) << host.log();
    const auto metrics = http_get(old_address, "/metrics");
    EXPECT_EQ(metric_value(metrics.body, "sockhost_generation"), "2") << host.log();
}

// The same port on the wildcard address overlaps the old endpoint's: that one is closed
// first, then the new one bound.
TEST(AdminEndpoint, ReloadToAnOverlappingAddressMovesIt) {
    auto config = probe_on("threading");
    config["admin"] = "tcp://127.0.0.1:0";
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const std::string old_address = logged_admin_address(host);
    ASSERT_TRUE(old_address.starts_with("tcp://127.0.0.1:")) << host.log();
    const std::string port = old_address.substr(old_address.rfind(':') + 1);
    rewrite_admin(host, "tcp://0.0.0.0:" + port);
    ASSERT_EQ(::kill(host.pid(), SIGHUP), 0);
    ASSERT_TRUE(host.wait_for_log("admin endpoint moved to tcp://0.0.0.0:" + port)) << host.log();
    EXPECT_EQ(http_get(old_address, "/healthz").status, 200) << host.log();  // loopback reaches the wildcard
}

}  // namespace
}  // namespace sockhost::test
