// Slow clients, as a slowloris attack runs them: many connections, each sending its
// request one byte at a time, never finishing it. One thread drives them all.
#pragma once

#include <sockhost/host/shared/unique_fd.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sockhost::test {

class TricklingClients {
public:
    // Connects `count` clients to `bound_address` before returning; each then sends the
    // bytes of `prefix` and after them 'a' forever, one byte every `interval`.
    TricklingClients(const std::string &bound_address, int count, std::string prefix,
                     std::chrono::milliseconds interval);
    ~TricklingClients();  // stops sending and closes every connection
    TricklingClients(const TricklingClients &) = delete;
    TricklingClients &operator=(const TricklingClients &) = delete;

    // Connections the server has closed (end of input, reset, or a failed send).
    int closed() const { return closed_.load(); }
    // What the server sent on each closed connection before closing it.
    std::vector<std::string> replies_of_closed() const;

private:
    struct Client {
        UniqueFd fd;
        std::size_t sent = 0;
        std::string received;
        bool open = true;
    };
    void run();
    void step(Client &client);
    void close_client(Client &client);

    std::string prefix_;
    std::chrono::milliseconds interval_;
    std::vector<Client> clients_;
    mutable std::mutex mutex_;  // guards clients_' received texts and open flags
    std::atomic<int> closed_{0};
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace sockhost::test
