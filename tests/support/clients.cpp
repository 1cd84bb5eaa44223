#include <set>
#include <filesystem>
#include "clients.hpp"

#include <sockhost/host/shared/address.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sockhost::test {

namespace {

UniqueFd connect_to(const SocketAddress &target, const std::string &what) {
    UniqueFd fd(::socket(target.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), target.get(), target.length) != 0)
        throw std::runtime_error("connect " + what + ": " + std::strerror(errno));
    return fd;
}

}  // namespace

// The host's own parser reads the addresses it logs ("tcp://127.0.0.1:5000", "unix:/x").
SocketAddress parse_target(const std::string &bound) {
    auto listen = parse_listen_address(bound);
    if (!listen) throw std::runtime_error(listen.error().message);
    auto address = resolve_listen_address(*listen);
    if (!address) throw std::runtime_error(address.error().message);
    return *address;
}

bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd watched{fd, POLLIN, 0};
        const int ready = ::poll(&watched, 1, static_cast<int>(left.count()));
        if (ready > 0) return true;
        if (ready == 0 || errno != EINTR) return false;
    }
}


UniqueFd connect_stream(const std::string &bound_address) {
    return connect_to(parse_target(bound_address), bound_address);
}

UniqueFd connect_tcp_from(const std::string &bound_address, const std::string &source_ip) {
    const SocketAddress target = parse_target(bound_address);
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in source{};
    source.sin_family = AF_INET;
    ::inet_pton(AF_INET, source_ip.c_str(), &source.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&source), sizeof source) != 0)
        throw std::runtime_error("bind " + source_ip + ": " + std::strerror(errno));
    if (::connect(fd.get(), target.get(), target.length) != 0)
        throw std::runtime_error("connect " + bound_address + ": " + std::strerror(errno));
    return fd;
}

std::string local_address_of(int fd) {
    SocketAddress address;
    address.length = sizeof address.storage;
    ::getsockname(fd, address.get(), &address.length);
    return format_address(address);
}

void send_all(int fd, const std::string &data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        const ssize_t count = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (count < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        sent += static_cast<std::size_t>(count);
    }
}

std::string read_exactly(int fd, std::size_t count, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string data;
    char buffer[65536];
    while (data.size() < count && wait_readable(fd, deadline)) {
        const ssize_t received = ::recv(fd, buffer, std::min(sizeof buffer, count - data.size()), 0);
        if (received <= 0) break;
        data.append(buffer, static_cast<std::size_t>(received));
    }
    return data;
}

std::string read_until_eof(int fd, std::chrono::milliseconds timeout) {
    return read_exactly(fd, std::string::npos, timeout);
}

std::string read_line(int fd, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string line;
    char byte = 0;
    while (wait_readable(fd, deadline) && ::recv(fd, &byte, 1, 0) == 1) {
        line.push_back(byte);
        if (byte == '\n') break;
    }
    return line;
}

std::string stream_exchange(const std::string &bound_address, const std::string &request) {
    UniqueFd fd = connect_stream(bound_address);
    send_all(fd.get(), request);
    ::shutdown(fd.get(), SHUT_WR);
    return read_until_eof(fd.get());
}

DatagramClient::DatagramClient(const std::string &bound_address, bool bound) {
    const SocketAddress target = parse_target(bound_address);
    fd_ = UniqueFd(::socket(target.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (target.family() == AF_UNIX && bound) {
        // A bound client, so the host has an address to reply to.
        own_path_ = reinterpret_cast<const sockaddr_un *>(&target.storage)->sun_path + std::string(".client-") +
                    std::to_string(::getpid()) + "-" + std::to_string(fd_.get());
        sockaddr_un self{};
        self.sun_family = AF_UNIX;
        std::strncpy(self.sun_path, own_path_.c_str(), sizeof self.sun_path - 1);
        ::unlink(own_path_.c_str());
        if (::bind(fd_.get(), reinterpret_cast<sockaddr *>(&self), sizeof self) != 0)
            throw std::runtime_error("bind " + own_path_ + ": " + std::strerror(errno));
    }
    if (::connect(fd_.get(), target.get(), target.length) != 0)
        throw std::runtime_error("connect " + bound_address + ": " + std::strerror(errno));
}

DatagramClient::~DatagramClient() {
    if (!own_path_.empty()) ::unlink(own_path_.c_str());
}

void DatagramClient::send(const std::string &datagram) {
    if (::send(fd_.get(), datagram.data(), datagram.size(), 0) < 0)
        throw std::runtime_error(std::string("send datagram: ") + std::strerror(errno));
}

std::optional<std::string> DatagramClient::receive(std::chrono::milliseconds timeout) {
    if (!wait_readable(fd_.get(), std::chrono::steady_clock::now() + timeout)) return std::nullopt;
    std::string datagram(65536, '\0');
    const ssize_t count = ::recv(fd_.get(), datagram.data(), datagram.size(), 0);
    if (count < 0) return std::nullopt;
    datagram.resize(static_cast<std::size_t>(count));
    return datagram;
}

std::string DatagramClient::exchange(const std::string &datagram) {
    send(datagram);
    return receive().value_or("(no reply)");
}

int open_fd_count(pid_t pid) {
    int count = 0;
    const std::string path = "/proc/" + std::to_string(pid) + "/fd";
    if (DIR *dir = ::opendir(path.c_str())) {
        while (const dirent *entry = ::readdir(dir))
            if (entry->d_name[0] != '.') ++count;
        ::closedir(dir);
    }
    return count;
}

int thread_count(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
    return -1;
}

std::multiset<std::string> socket_inodes(pid_t pid) {
    std::multiset<std::string> inodes;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    std::error_code listing;
    for (const auto &entry : std::filesystem::directory_iterator(dir, listing)) {
        std::error_code error;
        const auto target = std::filesystem::read_symlink(entry.path(), error).string();
        if (target.starts_with("socket:")) inodes.insert(target);
    }
    return inodes;
}

std::set<std::string> seqpacket_sockets() {
    std::set<std::string> found;
    std::ifstream table("/proc/net/unix");
    std::string line;
    std::getline(table, line);  // the header
    while (std::getline(table, line)) {
        std::istringstream fields(line);
        std::string slot, references, protocol, flags, type, state, inode;
        fields >> slot >> references >> protocol >> flags >> type >> state >> inode;
        if (type == "0005") found.insert("socket:[" + inode + "]");
    }
    return found;
}

std::multiset<std::string> sockets_but_handoff_channels(pid_t pid) {
    const auto channels = seqpacket_sockets();
    std::multiset<std::string> sockets;
    for (const auto &socket : socket_inodes(pid))
        if (!channels.contains(socket)) sockets.insert(socket);
    return sockets;
}

std::vector<pid_t> child_pids(pid_t pid) {
    std::vector<pid_t> children;
    // Each thread has its own list of the children it forked.
    const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
    if (DIR *dir = ::opendir(task_dir.c_str())) {
        while (const dirent *entry = ::readdir(dir)) {
            if (entry->d_name[0] == '.') continue;
            std::ifstream list(task_dir + "/" + entry->d_name + "/children");
            pid_t child = 0;
            while (list >> child) children.push_back(child);
        }
        ::closedir(dir);
    }
    return children;
}

int count_of(const std::string &text, const std::string &what) {
    int count = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
    return count;
}

namespace {

// The state letter of /proc/PID/stat ('R', 'S', 'Z', ...); nullopt once the pid is gone.
std::optional<char> process_state(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    const auto close = text.rfind(')');
    if (close == std::string::npos || close + 2 >= text.size()) return std::nullopt;
    return text[close + 2];
}

}  // namespace

bool has_zombie_children(pid_t pid) {
    for (const pid_t child : child_pids(pid))
        if (process_state(child) == 'Z') return true;
    return false;
}

bool process_alive(pid_t pid) {
    const auto state = process_state(pid);
    return state && *state != 'Z';
}

bool ended_within(pid_t pid, std::chrono::milliseconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (process_alive(pid)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

}  // namespace sockhost::test
