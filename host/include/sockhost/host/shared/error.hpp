// Errors as values: every fallible step returns Result<T>, whose error is one readable line
// naming the thing (file, address, key) and the reason.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>

namespace sockhost {

struct Error {
    std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) {
    return std::unexpected<Error>(Error{std::move(message)});
}

// "what: strerror(errno)" for the current errno.
inline std::unexpected<Error> fail_errno(const std::string &what, int error_number = errno) {
    return fail(what + ": " + std::strerror(error_number));
}

}  // namespace sockhost
