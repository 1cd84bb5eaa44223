#include "config_text.hpp"

#include <sockhost/host/shared/config.hpp>

#include <gtest/gtest.h>

namespace {

using sockhost::test::error_of;
using sockhost::test::parse;

TEST(Config, MinimalConfigGetsDocumentedDefaults) {
    const auto config = parse(R"({"plugin_dir": "plugins", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo"}]})");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->plugin_dir, "/etc/sockhost/plugins") << "relative to the config file";
    ASSERT_EQ(config->listeners.size(), 1u);
    const auto &listener = config->listeners[0];
    EXPECT_EQ(listener.plugin, "echo");
    EXPECT_EQ(listener.plugin_config_json, "{}");
    EXPECT_EQ(listener.options.mode, sockhost::Mode::sync);
    EXPECT_EQ(listener.bind.request_queue_size, 128);
    EXPECT_TRUE(listener.bind.reuse_address);
    EXPECT_FALSE(listener.bind.reuse_port);
    EXPECT_EQ(listener.options.max_packet_size, 8192u);
    EXPECT_EQ(listener.options.timeout, std::chrono::seconds(60));
    EXPECT_EQ(listener.options.request_deadline, std::chrono::seconds(60));
    EXPECT_TRUE(listener.options.tcp_nodelay);
    EXPECT_TRUE(listener.options.block_on_close);
    EXPECT_EQ(listener.options.stall_warning, std::chrono::milliseconds(200));
    EXPECT_EQ(config->drain_timeout, std::chrono::seconds(10));
}

TEST(Config, ReadsEveryOption) {
    const auto config = parse(R"({
      "plugin_dir": "/opt/plugins", "drain_timeout": 2.5, "log_level": "debug",
      "listeners": [
        {"listen": "tcp://[::1]:8080", "plugin": "http", "mode": "forking", "config": {"body": "hi"},
         "request_queue_size": 16, "reuse_address": false, "reuse_port": true, "timeout": 0.25,
         "request_deadline": 7.5, "tcp_nodelay": false, "max_children": 3, "block_on_close": false,
         "allow": ["::1", "fd00::/8"], "deny": ["fd00::7"]},
        {"listen": "unix-dgram:run/k.sock", "plugin": "kv", "mode": "threading", "max_threads": 9,
         "max_packet_size": 512},
        {"listen": "tcp://127.0.0.1:8081", "plugin": "echo", "mode": "event", "stall_warning": 0.05},
        {"listen": "tcp://127.0.0.1:8082", "plugin": "echo", "stall_warning": 0}
      ]})");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->plugin_dir, "/opt/plugins");
    EXPECT_EQ(config->drain_timeout, std::chrono::milliseconds(2500));
    EXPECT_EQ(config->log_level, sockhost::LogLevel::debug);
    const auto &http = config->listeners[0];
    EXPECT_EQ(http.options.mode, sockhost::Mode::forking);
    EXPECT_EQ(http.plugin_config_json, R"({"body":"hi"})");
    EXPECT_EQ(http.bind.request_queue_size, 16);
    EXPECT_FALSE(http.bind.reuse_address);
    EXPECT_TRUE(http.bind.reuse_port);
    EXPECT_EQ(http.options.timeout, std::chrono::milliseconds(250));
    EXPECT_EQ(http.options.request_deadline, std::chrono::milliseconds(7500));
    EXPECT_FALSE(http.options.tcp_nodelay);
    EXPECT_EQ(http.options.max_children, 3);
    EXPECT_FALSE(http.options.block_on_close);
    EXPECT_EQ(http.options.access.allow.size(), 2u);
    EXPECT_EQ(http.options.access.deny.size(), 1u);
    const auto &kv = config->listeners[1];
    EXPECT_EQ(kv.address.path, "/etc/sockhost/run/k.sock") << "relative to the config file";
    EXPECT_EQ(kv.options.max_threads, 9);
    EXPECT_EQ(kv.options.max_packet_size, 512u);
    EXPECT_EQ(config->listeners[2].options.stall_warning, std::chrono::milliseconds(50));
    EXPECT_EQ(config->listeners[3].options.stall_warning, std::chrono::milliseconds(0)) << "0: off";
}

TEST(Config, PortZeroMayRepeat) {
    const auto config = parse(R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo"},
                                                                  {"listen": "tcp://127.0.0.1:0", "plugin": "echo"}]})");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->listeners.size(), 2u);
}

TEST(Config, ErrorsNameTheKeyAndTheReason) {
    const std::string listen = R"("listen": "tcp://127.0.0.1:0", "plugin": "echo")";
    const std::pair<std::string, std::string> cases[] = {
        {"not json", "config test.json: not valid JSON"},
        {"[]", "expected a JSON object at the top"},
        {R"({"listeners": [{)" + listen + "}]}", "plugin_dir: required key is missing"},
        {R"({"plugin_dir": 3, "listeners": []})", "plugin_dir: expected a string, got number"},
        {R"({"plugin_dir": "p", "listeners": {}})", "listeners: expected an array, got object"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "name": "a:b"}]})", "listeners[0].name: 'a:b' must be"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "name": "x"}, {)" + listen + R"(, "name": "x"}]})", "listeners[1].name: 'x' is already used by listeners[0]"},
        {R"({"plugin_dir": "p", "workers": 0})", "workers: 0 is out of range 1..1024"},
        {R"({"plugin_dir": "p", "workers": 18446744073709551615})", "workers: 18446744073709551615 is out of range 1..1024"},
        {R"({"plugin_dir": "p", "workers": "many"})", "workers: expected an integer, got string"},
        {R"({"plugin_dir": "p", "ready_timeout": "soon"})", "ready_timeout: expected a number of seconds"},
        {R"({"plugin_dir": "p", "control_socket": 1})", "control_socket: expected a string, got number"},
        {R"({"plugin_dir": "p", "listners": [], "listeners": [{)" + listen + "}]}", "listners: unknown key"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "colour": 1}]})", "listeners[0].colour: unknown key"},
        {R"({"plugin_dir": "p", "listeners": [{"plugin": "echo"}]})", "listeners[0].listen: required key is missing"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://x", "plugin": "echo"}]})", "listeners[0].listen: listen address 'tcp://x': missing ':PORT'"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo.so"}]})", "listeners[0].plugin: 'echo.so' must be a plugin name"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "mode": "fast"}]})", "listeners[0].mode: unknown mode 'fast'"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "timeout": "5"}]})", "listeners[0].timeout: expected a number of seconds, got string"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "timeout": -1}]})", "listeners[0].timeout: -1 is not a number of seconds"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "request_queue_size": 0}]})", "listeners[0].request_queue_size: 0 is out of range 1..65535"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "reuse_address": "yes"}]})", "listeners[0].reuse_address: expected true or false, got string"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "allow": ["10.0.0.0/40"]}]})", "listeners[0].allow[0]: address '10.0.0.0/40': prefix length"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "max_children": 2}]})", "listeners[0].max_children: only applies to mode forking"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "max_connections": 2}]})", "listeners[0].max_connections: only applies to mode event"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "mode": "threading", "fiber_stack_size": 65536}]})", "listeners[0].fiber_stack_size: only applies to mode event"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "mode": "event", "fiber_stack_size": 4096}]})", "listeners[0].fiber_stack_size: 4096 is out of range 16384.."},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "mode": "event", "max_connections": 0}]})", "listeners[0].max_connections: 0 is out of range 1.."},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "mode": "event", "max_threads": 4}]})", "listeners[0].max_threads: only applies to mode threading"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "mode": "threading", "stall_warning": 1}]})", "listeners[0].stall_warning: only applies to modes sync and event"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "mode": "forking", "stall_warning": 0}]})", "listeners[0].stall_warning: only applies to modes sync and event"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "mode": "event", "stall_warning": -0.1}]})", "listeners[0].stall_warning: -0.1 is not a number of seconds"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "stall_warning": 0.0001}]})", "listeners[0].stall_warning: 0.0001 is below the 1 ms resolution"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "stall_warning": "200ms"}]})", "listeners[0].stall_warning: expected a number of seconds, got string"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "max_packet_size": 2}]})", "listeners[0].max_packet_size: only udp and unix-dgram"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "unix:/x", "plugin": "echo", "reuse_port": true}]})", "listeners[0].reuse_port: only tcp and udp"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "unix:/x", "plugin": "echo", "allow": ["::1"]}]})", "allow/deny lists apply to tcp and udp listeners only"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "udp://[::1]:53", "plugin": "echo"}, {"listen": "udp://[::1]:53", "plugin": "echo"}]})", "listeners[1].listen: 'udp://[::1]:53' is already used by listeners[0]"},
        {R"({"plugin_dir": "p", "log_level": "loud", "listeners": [{)" + listen + "}]}", "log_level: unknown level 'loud'"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "unix:/x", "plugin": "echo", "reuse_address": true}]})", "listeners[0].reuse_address: only tcp and udp listeners reuse an address"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "unix:/x", "plugin": "echo", "reuse_port": false}]})", "listeners[0].reuse_port: only tcp and udp"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "unix:/x", "plugin": "echo", "deny": []}]})", "allow/deny lists apply to tcp and udp listeners only"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "udp://127.0.0.1:0", "plugin": "echo", "request_queue_size": 5}]})", "listeners[0].request_queue_size: datagram listeners have no connection queue"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "udp://127.0.0.1:0", "plugin": "echo", "request_deadline": 5}]})", "listeners[0].request_deadline: a datagram arrives whole, so it cannot trickle"},
        {R"({"plugin_dir": "p", "listeners": [{)" + listen + R"(, "request_deadline": -2}]})", "listeners[0].request_deadline: -2 is not a number of seconds"},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "unix:)" + std::string(100, 'x') + R"(", "plugin": "echo"}]})", "listeners[0].listen: socket path '/etc/sockhost/xxxx"},
    };
    for (const auto &[text, expected] : cases) {
        const std::string message = error_of(text);
        EXPECT_NE(message.find(expected), std::string::npos) << "config: " << text << "\nerror: " << message;
        EXPECT_TRUE(message.starts_with("config test.json: ")) << message;
    }
}

}  // namespace

namespace {

// The JSON library throws for these instead of reporting a parse error; each must come
// back as an error naming the file, never as an exception that ends the supervisor.
TEST(Config, NumberBeyondADoubleIsAnErrorNotAnException) {
    for (const std::string &text : {
             std::string(R"({"plugin_dir": "p", "drain_timeout": 1e400})"),
             std::string(R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo", "request_queue_size": -1e400}]})"),
             std::string(R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo", "config": {"x": 1e999}}]})")}) {
        const std::string message = error_of(text);
        EXPECT_TRUE(message.starts_with("config test.json: not valid JSON")) << message;
        EXPECT_NE(message.find("number overflow"), std::string::npos) << message;
    }
    const auto sidecar = sockhost::parse_sidecar(R"({"listeners": [{"listen": "udp://127.0.0.1:0", "timeout": 1e400}]})",
                                                 "/etc/sockhost/plugins", "echo.json", "echo");
    ASSERT_FALSE(sidecar);
    EXPECT_TRUE(sidecar.error().message.starts_with("sidecar echo.json: not valid JSON")) << sidecar.error().message;
}

// A plugin's `config` is written out again as text for the plugin: nesting beyond the
// limit would overflow the stack there, so it is refused when read.
TEST(Config, NestingDeeperThanTheLimitIsRefused) {
    const auto nested = [](std::size_t depth) {
        return R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo", "config": )" +
               std::string(depth, '[') + std::string(depth, ']') + "}]}";
    };
    EXPECT_EQ(error_of(nested(60)), "(accepted)");
    const std::string message = error_of(nested(70000));
    EXPECT_TRUE(message.starts_with("config test.json: ")) << message;
    EXPECT_NE(message.find("nested deeper than 64 levels"), std::string::npos) << message;
}

}  // namespace

namespace {

TEST(Config, KeyGivenTwiceIsRefusedNotTakenLast) {
    const std::string top = error_of(R"({"plugin_dir": "p", "drain_timeout": 1, "drain_timeout": 2})");
    EXPECT_NE(top.find("key 'drain_timeout' is given twice in one object"), std::string::npos) << top;
    const std::string nested = error_of(
        R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo", "plugin": "http"}]})");
    EXPECT_NE(nested.find("key 'plugin' is given twice"), std::string::npos) << nested;
    EXPECT_EQ(error_of(R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo", "config": {"a": 1}},
                                                           {"listen": "tcp://127.0.0.1:0", "plugin": "echo", "config": {"a": 2}}]})"),
              "(accepted)")
        << "the same key in two objects is fine";
}

// 0 means "no timeout": a small positive timeout must not round to it.
TEST(Config, PositiveTimeoutBelowAMillisecondIsRefused) {
    const std::string message = error_of(
        R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo", "timeout": 0.0004}]})");
    EXPECT_NE(message.find("listeners[0].timeout: 0.0004 is below the 1 ms resolution"), std::string::npos) << message;
    EXPECT_EQ(error_of(R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo", "timeout": 0.001}]})"),
              "(accepted)");
}

std::vector<sockhost::ListenerConfig> listeners_of(const std::vector<std::string> &addresses) {
    std::vector<sockhost::ListenerConfig> listeners;
    for (const auto &text : addresses) {
        sockhost::ListenerConfig listener;
        listener.address = *sockhost::parse_listen_address(text);
        listeners.push_back(listener);
    }
    return listeners;
}

// Written differently, bound the same: one of the two would silently get every datagram.
TEST(Config, ListenersThatResolveToOneAddressAreRefused) {
    for (const auto &pair : std::vector<std::vector<std::string>>{{"udp://127.0.0.1:5353", "udp://localhost:5353"},
                                                                  {"udp://*:5353", "udp://127.0.0.1:5353"},
                                                                  {"tcp://[::1]:8080", "tcp://[::]:8080"}}) {
        const auto checked = sockhost::check_listeners_bindable(listeners_of(pair));
        ASSERT_FALSE(checked) << pair[0] << " and " << pair[1];
        EXPECT_NE(checked.error().message.find("already covers"), std::string::npos) << checked.error().message;
    }
    EXPECT_TRUE(sockhost::check_listeners_bindable(listeners_of({"udp://127.0.0.1:5353", "tcp://127.0.0.1:5353"})))
        << "tcp and udp ports are apart";
    EXPECT_TRUE(sockhost::check_listeners_bindable(listeners_of({"udp://127.0.0.1:0", "udp://localhost:0"})))
        << "port 0 is a new port each time";
    EXPECT_TRUE(sockhost::check_listeners_bindable(listeners_of({"tcp://127.0.0.1:8080", "tcp://[::1]:8080"})));
    const auto unresolvable = sockhost::check_listeners_bindable(listeners_of({"tcp://no-such-host.invalid:80"}));
    ASSERT_FALSE(unresolvable);
    EXPECT_NE(unresolvable.error().message.find("cannot resolve host"), std::string::npos) << unresolvable.error().message;
}

}  // namespace

namespace {

// JSON's "\u0000" puts a NUL byte in a string; every path, name and user is read by the
// system as a C string, which ends there: "root\u0000x" would switch to root, and
// "/run/a.sock\u0000b" bind /run/a.sock. Such a string is refused, naming its key.
TEST(Config, NulByteInAStringIsRefused) {
    const std::pair<const char *, const char *> cases[] = {
        {R"({"plugin_dir": "p\u0000q"})", "plugin_dir: "},
        {R"({"plugin_dir": "p", "pid_file": "run/x.pid\u0000"})", "pid_file: "},
        {R"({"plugin_dir": "p", "user": "root\u0000nobody"})", "user: "},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo", "name": "a\u0000b"}]})",
         "listeners[0].name: "},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "unix:/run/a.sock\u0000b", "plugin": "echo"}]})",
         "listeners[0].listen: "},
        {R"({"plugin_dir": "p", "listeners": [{"listen": "unix:/run/a.sock", "plugin": "echo",
              "socket_owner": "root\u0000x"}]})",
         "listeners[0].socket_owner: "},
    };
    for (const auto &[text, key] : cases) {
        const std::string message = error_of(text);
        EXPECT_NE(message.find(key), std::string::npos) << text << ": " << message;
        EXPECT_NE(message.find("NUL byte"), std::string::npos) << text << ": " << message;
    }
    EXPECT_EQ(error_of(R"({"plugin_dir": "p", "listeners": [{"listen": "tcp://127.0.0.1:0", "plugin": "echo",
                                                              "config": {"text": "a\u0000b"}}]})"),
              "(accepted)")
        << "a plugin's own config is the plugin's: it gets JSON text, with the escape";
}

}  // namespace
