#include <sockhost/host/shared/inherited_listeners.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

namespace sockhost {

namespace {

bool parse_number(const char *text, long &out) {
    if (text == nullptr) return false;
    const char *end = text + std::char_traits<char>::length(text);
    const auto [rest, error] = std::from_chars(text, end, out);
    return error == std::errc() && rest == end && rest != text;
}

}  // namespace

Result<std::vector<InheritedListener>> take_inherited_listeners() {
    const char *pid_text = std::getenv("LISTEN_PID");
    const char *count_text = std::getenv("LISTEN_FDS");
    const char *names_env = std::getenv("LISTEN_FDNAMES");
    const std::string names_text = names_env != nullptr ? names_env : "";
    std::vector<InheritedListener> listeners;
    long pid = 0;
    long count = 0;
    // Meant for another process (a parent that did not clear them): not ours to take.
    const bool ours = parse_number(pid_text, pid) && pid == ::getpid();
    const bool counted = parse_number(count_text, count);
    ::unsetenv("LISTEN_PID");
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    if (!ours) return listeners;
    if (!counted || count < 0 || count > 4096)
        return fail(std::string("LISTEN_FDS: '") + (count_text != nullptr ? count_text : "") + "' is not a count of fds");

    std::vector<std::string> names;
    for (std::size_t start = 0; !names_text.empty();) {
        const auto colon = names_text.find(':', start);
        names.push_back(names_text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    for (int index = 0; index < count; ++index) {
        const int fd = kFirstListenFd + index;
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags < 0) return fail_errno("LISTEN_FDS: fd " + std::to_string(fd));
        // Ours alone: not passed on to anything this process executes.
        ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        listeners.push_back({UniqueFd(fd), static_cast<std::size_t>(index) < names.size() ? names[index] : ""});
    }
    return listeners;
}

}  // namespace sockhost
