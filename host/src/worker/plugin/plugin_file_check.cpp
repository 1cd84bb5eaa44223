#include <sockhost/host/worker/plugin/plugin_file_check.hpp>

#include <sockhost/host/shared/privileges.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <deque>

namespace sockhost {

namespace {

constexpr int kMaxSymbolicLinks = 40;  // as the kernel's path lookup (ELOOP)

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

// What makes `status` unsafe to trust, and whether the fix is the mode or the owner;
// an empty reason when it is safe.
struct Problem {
    std::string reason;
    const char *fix = "mode";
};

Problem problem_with(const struct stat &status, uid_t trusted_uid) {
    if (status.st_uid != 0 && status.st_uid != trusted_uid)
        return {"owned by " + describe_user(status.st_uid) + ", not by " +
                    (trusted_uid == 0 ? std::string("root") : "root or " + describe_user(trusted_uid)),
                "owner"};
    // A root-owned sticky directory (/tmp) lets others add entries but not rename or
    // remove ours; the entry on our path is checked next.
    if (S_ISDIR(status.st_mode) && status.st_uid == 0 && (status.st_mode & S_ISVTX) != 0) return {};
    const std::string mode = " (mode " + octal_mode(status.st_mode) + ")";
    if ((status.st_mode & S_IWOTH) != 0) return {"world-writable" + mode};
    if ((status.st_mode & S_IWGRP) != 0) return {"group-writable" + mode};
    return {};
}

void push_components_front(std::deque<std::string> &pending, const std::filesystem::path &path) {
    std::deque<std::string> components;
    for (const auto &component : path.relative_path()) components.push_back(component.string());
    pending.insert(pending.begin(), components.begin(), components.end());
}

}  // namespace

Result<void> check_plugin_file_safety(const std::filesystem::path &file, uid_t trusted_uid) {
    const auto refused = [&](const std::string &reason, const char *fix) {
        return fail("plugin " + file.string() + ": refused: " + reason + "; fix the " + fix +
                    " or set strict_modes: false");
    };
    std::error_code error;
    const auto absolute = std::filesystem::absolute(file, error);
    if (error) return fail("plugin " + file.string() + ": cannot make the path absolute: " + error.message());

    // Walks the path one entry at a time from "/", as path lookup does, so that every
    // directory whose entries decide where the path leads is checked.
    std::deque<std::string> pending;
    push_components_front(pending, absolute);
    std::filesystem::path current = "/";
    struct stat status {};
    if (::stat("/", &status) != 0) return fail_errno("plugin " + file.string() + ": cannot inspect /");
    if (auto problem = problem_with(status, trusted_uid); !problem.reason.empty())
        return refused("directory / is " + problem.reason, problem.fix);
    int links_followed = 0;
    while (!pending.empty()) {
        const std::string name = pending.front();
        pending.pop_front();
        if (name.empty() || name == ".") continue;
        if (name == "..") {
            current = current.parent_path();  // `current` holds no links, so this is exact
            continue;
        }
        const auto next = current / name;
        if (::lstat(next.c_str(), &status) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) return fail("plugin " + file.string() + ": file not found");
            return fail_errno("plugin " + file.string() + ": cannot inspect " + next.string() + " as " +
                              describe_user(::geteuid()));
        }
        if (S_ISLNK(status.st_mode)) {
            // The link's directory was checked on the way here; its target is checked next.
            if (++links_followed > kMaxSymbolicLinks) return fail("plugin " + file.string() + ": too many symbolic links");
            const auto target = std::filesystem::read_symlink(next, error);
            if (error) return fail("plugin " + file.string() + ": cannot read link " + next.string() + ": " + error.message());
            if (target.is_absolute()) current = "/";
            push_components_front(pending, target);
            continue;
        }
        if (pending.empty()) {  // the file itself
            if (!S_ISREG(status.st_mode)) return fail("plugin " + file.string() + ": not a regular file");
            if (auto problem = problem_with(status, trusted_uid); !problem.reason.empty())
                return refused(next == absolute ? problem.reason : "its target " + next.string() + " is " + problem.reason,
                               problem.fix);
            return {};
        }
        if (!S_ISDIR(status.st_mode)) return fail("plugin " + file.string() + ": file not found");
        if (auto problem = problem_with(status, trusted_uid); !problem.reason.empty())
            return refused("directory " + next.string() + " is " + problem.reason, problem.fix);
        current = next;
    }
    return fail("plugin " + file.string() + ": not a regular file");  // the path ends in a directory
}

}  // namespace sockhost
