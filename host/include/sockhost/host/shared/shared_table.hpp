// A table of lock-free atomics on memory the supervisor shares with one worker: a sealed
// memfd, mapped by both (the worker's request children inherit the mapping). The
// supervisor creates it and passes the descriptor; the worker maps it and closes the
// descriptor, so nothing a plugin starts inherits it.
//
// T starts as the memfd's zero bytes: each of its fields must be a lock-free atomic (or
// plain bytes) whose zero is its initial value. T names itself for messages
// (`T::kWhat`, e.g. "activity table").
#pragma once

#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/unique_fd.hpp>

#include <cstddef>
#include <utility>

namespace sockhost {

namespace shared_memory {

// A new sealed memfd of `size` bytes, mapped; `what` names it in errors.
Result<void *> create(std::size_t size, const char *what, UniqueFd &fd);
// Maps a descriptor given by the supervisor, checking it holds at least `size` bytes.
Result<void *> adopt(int fd, std::size_t size, const char *what);
void unmap(void *address, std::size_t size);

}  // namespace shared_memory

template <typename T>
class SharedTable {
public:
    // The supervisor's side: a new memfd, sized, sealed and mapped.
    static Result<SharedTable> create() {
        UniqueFd fd;
        auto address = shared_memory::create(sizeof(T), T::kWhat, fd);
        if (!address) return std::unexpected(address.error());
        return SharedTable(std::move(fd), static_cast<T *>(*address));
    }
    // The worker's side: maps the memfd it was given (and closes the descriptor).
    static Result<SharedTable> adopt(UniqueFd fd) {
        auto address = shared_memory::adopt(fd.get(), sizeof(T), T::kWhat);
        if (!address) return std::unexpected(address.error());
        return SharedTable(UniqueFd(), static_cast<T *>(*address));
    }

    SharedTable(SharedTable &&other) noexcept
        : fd_(std::move(other.fd_)), table_(std::exchange(other.table_, nullptr)) {}
    SharedTable &operator=(SharedTable &&other) noexcept {
        if (this != &other) {
            if (table_ != nullptr) shared_memory::unmap(table_, sizeof(T));
            fd_ = std::move(other.fd_);
            table_ = std::exchange(other.table_, nullptr);
        }
        return *this;
    }
    ~SharedTable() {
        if (table_ != nullptr) shared_memory::unmap(table_, sizeof(T));
    }

    T &table() const { return *table_; }
    int fd() const { return fd_.get(); }
    void close_descriptor() { fd_.reset(); }  // the mapping stays

private:
    SharedTable(UniqueFd fd, T *table) : fd_(std::move(fd)), table_(table) {}
    UniqueFd fd_;
    T *table_ = nullptr;
};

}  // namespace sockhost
