// Who the host runs as: the `user`/`group` and `socket_owner` config keys, resolved to ids
// when the config is loaded (a name that does not resolve is a config error), and the
// switch to that user after the listeners are bound and before any plugin is loaded.
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sockhost {

// The user (and groups) the host drops to.
struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;                // the primary group: `group`, else the user's own
    std::vector<gid_t> groups;    // supplementary groups, as getgrouplist gives them
    std::string name;             // the user's name, or empty for a uid with no passwd entry
};

// The owner given to a Unix socket file by `socket_owner`.
struct SocketOwner {
    uid_t uid = 0;
    std::optional<gid_t> gid;     // absent: the group is left as bound
    std::string text;             // as configured, for messages
};

// Resolves `user` (a name or a numeric uid) and the optional `group` (a name or a numeric
// gid). Without `group` the user's primary group is used, and a uid with no passwd entry
// then needs `group`. The error names the key: "user: no such user 'x'", "group: ...".
Result<RunAs> resolve_run_as(std::string_view user, std::optional<std::string_view> group);

// A user or a group, by name or numeric id (a numeric one need not exist). The error is
// the reason only.
Result<uid_t> resolve_user_id(std::string_view text);
Result<gid_t> resolve_group_id(std::string_view text);

// Resolves "user" or "user:group" (names or numeric ids). The error is the reason only.
Result<SocketOwner> resolve_socket_owner(std::string_view text);

// Switches the whole process to `run_as`: supplementary groups, then group, then user (the
// only order in which each step is still permitted), then checks that root cannot be
// regained. Only root can switch; a process not running as root that already is `run_as`
// (same uid and gid) is left as it is, so one config serves a host started as root and one
// started directly as the service user. Anything else is an error naming the user.
Result<void> drop_privileges(const RunAs &run_as);

// "nobody (uid 65534)" or "uid 1234", for messages.
std::string describe_user(uid_t uid);
std::string describe_run_as(const RunAs &run_as);

}  // namespace sockhost
