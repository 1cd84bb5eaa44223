// A real Prometheus server scrapes the admin endpoint: the target is up and
// sockhost_generation reads 1.
#include "admin_client.hpp"
#include "clients.hpp"
#include "host_under_test.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

extern char **environ;

namespace sockhost::test {
namespace {

using namespace std::chrono_literals;

// A loopback port free a moment ago (bound to port 0, then closed).
int free_port() {
    UniqueFd socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(socket_fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof address) != 0) return 0;
    ::getsockname(socket_fd.get(), reinterpret_cast<sockaddr *>(&address), &length);
    return ntohs(address.sin_port);
}

TEST(PrometheusScrape, TargetUpAndGenerationQueried) {
    const std::string prometheus = "/usr/bin/prometheus";
    if (!std::filesystem::exists(prometheus)) GTEST_SKIP() << "prometheus is not installed (Debian: prometheus)";
    const int admin_port = free_port();
    auto config = probe_on("threading");
    config["admin"] = "tcp://127.0.0.1:" + std::to_string(admin_port);
    HostUnderTest host(config, {test_plugin("probe")});
    ASSERT_TRUE(host.ready()) << host.log();
    const auto scrape_config = host.dir() / "prometheus.yml";
    std::ofstream(scrape_config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sockhost\n"
                                    "    static_configs:\n      - targets: [\"127.0.0.1:"
                                 << admin_port << "\"]\n";
    const int web_port = free_port();
    std::vector<std::string> arguments{prometheus, "--config.file=" + scrape_config.string(),
                                       "--storage.tsdb.path=" + (host.dir() / "tsdb").string(),
                                       "--web.listen-address=127.0.0.1:" + std::to_string(web_port), "--log.level=error"};
    std::vector<char *> argv;
    for (auto &argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    pid_t server = -1;
    ASSERT_EQ(::posix_spawn(&server, prometheus.c_str(), nullptr, nullptr, argv.data(), environ), 0);
    // Stopped and reaped however the test ends, before its directory goes.
    struct Stopped {
        pid_t pid;
        ~Stopped() {
            ::kill(pid, SIGTERM);
            int status = 0;
            ::waitpid(pid, &status, 0);
        }
    } stopped{server};
    const std::string web = "tcp://127.0.0.1:" + std::to_string(web_port);
    // Until Prometheus listens, its port refuses: that is "not yet", not a failure.
    const auto get = [&](const std::string &path) {
        try {
            return http_get(web, path).body;
        } catch (const std::exception &) {
            return std::string();
        }
    };
    bool up = false, queried = false;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline && !(up && queried)) {
        std::this_thread::sleep_for(200ms);
        const auto targets = nlohmann::json::parse(get("/api/v1/targets"), nullptr, false);
        if (!targets.is_discarded() && targets.contains("data"))
            for (const auto &target : targets["data"]["activeTargets"]) up = up || target.value("health", "") == "up";
        const auto query = nlohmann::json::parse(get("/api/v1/query?query=sockhost_generation"), nullptr, false);
        if (!query.is_discarded() && query.contains("data") && !query["data"]["result"].empty())
            queried = query["data"]["result"][0]["value"][1] == "1";
    }
    EXPECT_TRUE(up) << "the scrape target never became up";
    EXPECT_TRUE(queried) << "sockhost_generation never read 1";
}

}  // namespace
}  // namespace sockhost::test
