// The security keys of the config: `user`, `group`, `strict_modes` and the Unix listeners'
// `socket_mode` and `socket_owner`, resolved (names to ids) when the config is read.
#include "config_text.hpp"

#include <sockhost/host/shared/config.hpp>

#include <gtest/gtest.h>

namespace {

using sockhost::test::error_of;
using sockhost::test::parse;

// A config with `top` merged in at the top level and `listener` in the only listener.
std::string config_with(const std::string &top, const std::string &listener = R"("listen": "unix:/run/s.sock")") {
    return R"({"plugin_dir": "p", )" + (top.empty() ? "" : top + ", ") + R"("listeners": [{)" + listener +
           R"(, "plugin": "echo"}]})";
}

TEST(SecurityConfig, DefaultsAreStrictAndUnchangedUser) {
    const auto config = parse(config_with(""));
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_TRUE(config->strict_modes);
    EXPECT_FALSE(config->run_as.has_value());
    EXPECT_FALSE(config->listeners[0].bind.socket_mode.has_value());
    EXPECT_FALSE(config->listeners[0].bind.socket_owner.has_value());
}

TEST(SecurityConfig, UserByNameTakesItsPrimaryGroupAndGroups) {
    const auto config = parse(config_with(R"("user": "nobody", "strict_modes": false)"));
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_FALSE(config->strict_modes);
    ASSERT_TRUE(config->run_as.has_value());
    EXPECT_EQ(config->run_as->name, "nobody");
    EXPECT_EQ(config->run_as->uid, 65534u);
    EXPECT_EQ(config->run_as->gid, 65534u);
    EXPECT_EQ(config->run_as->groups, std::vector<gid_t>{65534u});
}

TEST(SecurityConfig, NumericUserAndGroupNeedNoPasswdEntry) {
    const auto config = parse(config_with(R"("user": "4242", "group": 4343)"));
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->run_as->uid, 4242u);
    EXPECT_EQ(config->run_as->gid, 4343u);
    EXPECT_EQ(config->run_as->groups, std::vector<gid_t>{4343u});
    EXPECT_EQ(config->run_as->name, "");
}

TEST(SecurityConfig, GroupByNameOverridesThePrimaryGroup) {
    const auto config = parse(config_with(R"("user": "root", "group": "nogroup")"));
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->run_as->uid, 0u);
    EXPECT_EQ(config->run_as->gid, 65534u);
}

TEST(SecurityConfig, SocketModeAndOwner) {
    const auto config = parse(config_with("", R"("listen": "unix-dgram:/run/s.sock", "socket_mode": "0660", "socket_owner": "nobody:nogroup")"));
    ASSERT_TRUE(config) << config.error().message;
    const auto &options = config->listeners[0].bind;
    EXPECT_EQ(options.socket_mode, 0660u);
    ASSERT_TRUE(options.socket_owner.has_value());
    EXPECT_EQ(options.socket_owner->uid, 65534u);
    EXPECT_EQ(options.socket_owner->gid, 65534u);
    EXPECT_EQ(options.socket_owner->text, "nobody:nogroup");

    const auto user_only = parse(config_with("", R"("listen": "unix:/run/s.sock", "socket_mode": "600", "socket_owner": "nobody")"));
    ASSERT_TRUE(user_only) << user_only.error().message;
    EXPECT_EQ(user_only->listeners[0].bind.socket_mode, 0600u) << "a leading zero is optional";
    EXPECT_FALSE(user_only->listeners[0].bind.socket_owner->gid.has_value()) << "the group is left as bound";
}

TEST(SecurityConfig, ErrorsNameTheKeyAndTheReason) {
    const std::pair<std::string, std::string> cases[] = {
        {config_with(R"("user": "no-such-user-sockhost")"), "user: no such user 'no-such-user-sockhost'"},
        {config_with(R"("user": "")"), "user: a user name or uid is needed"},
        {config_with(R"("user": true)"), "user: expected a name or a numeric id, got boolean"},
        {config_with(R"("user": -1)"), "user: expected a name or a numeric id, got number"},
        {config_with(R"("user": "nobody", "group": "no-such-group-sockhost")"), "group: no such group 'no-such-group-sockhost'"},
        {config_with(R"("group": "nogroup")"), "group: needs user too"},
        {config_with(R"("user": "4242")"), "user: uid 4242 has no passwd entry, so it has no primary group; set group too"},
        {config_with(R"("strict_modes": "no")"), "strict_modes: expected true or false, got string"},
        {config_with("", R"("listen": "unix:/run/s.sock", "socket_mode": "0968")"), "listeners[0].socket_mode: '0968' is not an octal mode such as \"0660\""},
        {config_with("", R"("listen": "unix:/run/s.sock", "socket_mode": "rw-rw----")"), "listeners[0].socket_mode: 'rw-rw----' is not an octal mode"},
        {config_with("", R"("listen": "unix:/run/s.sock", "socket_mode": "")"), "listeners[0].socket_mode: '' is not an octal mode"},
        {config_with("", R"("listen": "unix:/run/s.sock", "socket_mode": "4755")"), "listeners[0].socket_mode: '4755' is above 0777"},
        {config_with("", R"("listen": "unix:/run/s.sock", "socket_mode": 660)"), "listeners[0].socket_mode: expected a string, got number"},
        {config_with("", R"("listen": "unix:/run/s.sock", "socket_owner": "no-such-user-sockhost")"), "listeners[0].socket_owner: no such user 'no-such-user-sockhost'"},
        {config_with("", R"("listen": "unix:/run/s.sock", "socket_owner": "nobody:no-such-group-sockhost")"), "listeners[0].socket_owner: no such group 'no-such-group-sockhost'"},
        {config_with("", R"("listen": "unix:/run/s.sock", "socket_owner": ":nogroup")"), "listeners[0].socket_owner: a user name or uid is needed"},
        {config_with("", R"("listen": "tcp://127.0.0.1:0", "socket_mode": "0660")"), "listeners[0].socket_mode: only unix and unix-dgram listeners have a socket file"},
        {config_with("", R"("listen": "udp://127.0.0.1:0", "socket_owner": "nobody")"), "listeners[0].socket_owner: only unix and unix-dgram listeners have a socket file"},
        {config_with("", R"("listen": "tcp://127.0.0.1:0", "socket_owner": "no-such-user-sockhost")"), "listeners[0].socket_owner: only unix and unix-dgram listeners have a socket file"},
    };
    for (const auto &[text, expected] : cases) {
        const std::string message = error_of(text);
        EXPECT_NE(message.find(expected), std::string::npos) << "config: " << text << "\nerror: " << message;
        EXPECT_TRUE(message.starts_with("config test.json: ")) << message;
    }
}

}  // namespace
