#include <sockhost/host/shared/privileges.hpp>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <limits>

namespace sockhost {

namespace {

// A numeric id ("65534"), or nothing if `text` is not all digits.
template <typename Id>
std::optional<Id> parse_id(std::string_view text) {
    if (text.empty()) return std::nullopt;
    unsigned long long value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    // (Id)-1 means "unchanged" to chown and setresuid; it is never a real id.
    if (value >= static_cast<unsigned long long>(std::numeric_limits<Id>::max())) return std::nullopt;
    return static_cast<Id>(value);
}

struct UserEntry {
    uid_t uid;
    gid_t gid;
    std::string name;
};

// getpwnam_r/getpwuid_r with a buffer that grows until the entry fits.
template <typename Lookup>
Result<std::optional<UserEntry>> find_user(Lookup lookup, const std::string &what) {
    std::vector<char> buffer(1024);
    for (;;) {
        passwd entry{};
        passwd *found = nullptr;
        const int error = lookup(&entry, buffer.data(), buffer.size(), &found);
        if (error == ERANGE && buffer.size() < (1u << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        // Some NSS modules report "no such entry" as one of these instead of 0 (getpwnam_r(3)).
        if (found == nullptr && (error == 0 || error == ENOENT || error == ESRCH || error == EBADF || error == EPERM))
            return std::optional<UserEntry>();
        if (error != 0) return fail_errno("cannot look up user " + what, error);
        return std::optional<UserEntry>(UserEntry{entry.pw_uid, entry.pw_gid, entry.pw_name});
    }
}

Result<std::optional<UserEntry>> user_by_name(const std::string &name) {
    return find_user([&](passwd *entry, char *buffer, std::size_t size, passwd **found) {
        return ::getpwnam_r(name.c_str(), entry, buffer, size, found);
    }, "'" + name + "'");
}

Result<std::optional<UserEntry>> user_by_id(uid_t uid) {
    return find_user([&](passwd *entry, char *buffer, std::size_t size, passwd **found) {
        return ::getpwuid_r(uid, entry, buffer, size, found);
    }, std::to_string(uid));
}

Result<gid_t> resolve_group(std::string_view text) {
    if (auto id = parse_id<gid_t>(text)) return *id;
    const std::string name(text);
    std::vector<char> buffer(1024);
    for (;;) {
        group entry{};
        group *found = nullptr;
        const int error = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (error == ERANGE && buffer.size() < (1u << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        if (found == nullptr && (error == 0 || error == ENOENT || error == ESRCH || error == EBADF || error == EPERM))
            return fail("no such group '" + name + "'");
        if (error != 0) return fail_errno("cannot look up group '" + name + "'", error);
        return entry.gr_gid;
    }
}

// A user given by name must exist; a numeric uid may have no passwd entry.
Result<UserEntry> resolve_user(std::string_view text) {
    if (const auto uid = parse_id<uid_t>(text)) {
        auto entry = user_by_id(*uid);
        if (!entry) return std::unexpected(entry.error());
        if (*entry) return **entry;
        return UserEntry{*uid, static_cast<gid_t>(-1), ""};
    }
    if (text.empty()) return fail("a user name or uid is needed, got an empty string");
    auto entry = user_by_name(std::string(text));
    if (!entry) return std::unexpected(entry.error());
    if (!*entry) return fail("no such user '" + std::string(text) + "'");
    return **entry;
}

}  // namespace

Result<uid_t> resolve_user_id(std::string_view text) {
    auto user = resolve_user(text);
    if (!user) return std::unexpected(user.error());
    return user->uid;
}

Result<gid_t> resolve_group_id(std::string_view text) { return resolve_group(text); }

namespace {

Result<std::vector<gid_t>> supplementary_groups(const std::string &name, gid_t primary) {
    if (name.empty()) return std::vector<gid_t>{primary};
    std::vector<gid_t> groups(32);
    for (;;) {
        int count = static_cast<int>(groups.size());
        if (::getgrouplist(name.c_str(), primary, groups.data(), &count) >= 0) {
            groups.resize(static_cast<std::size_t>(count));
            return groups;
        }
        if (static_cast<std::size_t>(count) <= groups.size()) return fail("cannot list the groups of user '" + name + "'");
        groups.resize(static_cast<std::size_t>(count));
    }
}

}  // namespace

Result<RunAs> resolve_run_as(std::string_view user, std::optional<std::string_view> group) {
    auto entry = resolve_user(user);
    if (!entry) return fail("user: " + entry.error().message);
    RunAs run_as{entry->uid, entry->gid, {}, entry->name};
    if (group) {
        auto gid = resolve_group(*group);
        if (!gid) return fail("group: " + gid.error().message);
        run_as.gid = *gid;
    } else if (entry->gid == static_cast<gid_t>(-1)) {
        return fail("user: uid " + std::to_string(entry->uid) +
                    " has no passwd entry, so it has no primary group; set group too");
    }
    auto groups = supplementary_groups(run_as.name, run_as.gid);
    if (!groups) return fail("user: " + groups.error().message);
    run_as.groups = std::move(*groups);
    return run_as;
}

Result<SocketOwner> resolve_socket_owner(std::string_view text) {
    const auto colon = text.find(':');
    auto user = resolve_user(text.substr(0, colon));
    if (!user) return std::unexpected(user.error());
    SocketOwner owner{user->uid, std::nullopt, std::string(text)};
    if (colon != std::string_view::npos) {
        auto gid = resolve_group(text.substr(colon + 1));
        if (!gid) return std::unexpected(gid.error());
        owner.gid = *gid;
    }
    return owner;
}

std::string describe_user(uid_t uid) {
    auto entry = user_by_id(uid);
    if (entry && *entry) return (*entry)->name + " (uid " + std::to_string(uid) + ")";
    return "uid " + std::to_string(uid);
}

std::string describe_run_as(const RunAs &run_as) {
    const std::string ids = "uid " + std::to_string(run_as.uid) + ", gid " + std::to_string(run_as.gid);
    return run_as.name.empty() ? ids : run_as.name + " (" + ids + ")";
}

Result<void> drop_privileges(const RunAs &run_as) {
    const std::string who = "user " + describe_run_as(run_as);
    if (::geteuid() != 0) {
        if (::getuid() == run_as.uid && ::geteuid() == run_as.uid && ::getgid() == run_as.gid &&
            ::getegid() == run_as.gid)
            return {};  // started as that user already
        return fail(who + ": cannot switch to it: sockhost runs as " + describe_user(::geteuid()) +
                    ", and only root can change user");
    }
    if (::setgroups(run_as.groups.size(), run_as.groups.data()) != 0)
        return fail_errno(who + ": cannot set the supplementary groups");
    if (::setgid(run_as.gid) != 0) return fail_errno(who + ": cannot set the group");
    if (::setuid(run_as.uid) != 0) return fail_errno(who + ": cannot set the user");
    if (run_as.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0))
        return fail(who + ": root could be regained after the switch; refusing to continue");
    if (::getuid() != run_as.uid || ::geteuid() != run_as.uid || ::getgid() != run_as.gid ||
        ::getegid() != run_as.gid)
        return fail(who + ": the switch did not take effect");
    return {};
}

}  // namespace sockhost
