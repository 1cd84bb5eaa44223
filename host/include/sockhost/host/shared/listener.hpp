// A bound listening socket (stream) or bound receiving socket (datagram), sole owner of
// its fd and, for Unix sockets this process created, of the socket file.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/server_options.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <sys/types.h>

namespace sockhost {

class ListenerSocket {
public:
    // Binds `address` with `options`. A Unix path left behind by a dead server is replaced;
    // a live one is "address in use"; a path that is not a socket is never removed.
    static Result<ListenerSocket> bind(const ListenAddress &address, const BindOptions &options);

    // Takes a socket bound elsewhere (by the supervisor, or by systemd) for `address`. Its
    // blocking mode is not changed and its Unix path, if any, is never removed by this object.
    // Fails if the fd is not a socket of the address's family and type.
    static Result<ListenerSocket> adopt(UniqueFd fd, const ListenAddress &address);

    // Whether an inherited socket `fd` is the one configured as `address`: same type, and
    // the same bound address (a Unix path, or an inet address and port; port 0 matches any).
    static bool matches(int fd, const ListenAddress &address);

    ListenerSocket(ListenerSocket &&) noexcept = default;
    ListenerSocket &operator=(ListenerSocket &&other) noexcept;
    ~ListenerSocket();

    int fd() const { return fd_.get(); }
    Transport transport() const { return address_.transport; }
    const SocketAddress &local_address() const { return local_; }
    // As bound: "tcp://127.0.0.1:41234" when the config said port 0.
    std::string bound_text() const;

private:
    ListenerSocket() = default;
    void remove_own_path() noexcept;

    UniqueFd fd_;
    ListenAddress address_;
    SocketAddress local_;
    // The Unix socket file this process created, removed at destruction if still ours.
    bool owns_path_ = false;
    dev_t path_device_ = 0;
    ino_t path_inode_ = 0;
};

}  // namespace sockhost
