// The fingerprint of plugin.h that plugin-api/abi-history.txt records: the SHA-256 of its
// declarations, i.e. of the text with comments removed and whitespace normalized. A
// comment or layout edit keeps it; any change to a token changes it.
#pragma once

#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

namespace sockhost::test {

// The header's declarations as one canonical text. Comments go (each counts as a space, as
// for the preprocessor); outside string and character literals every run of whitespace
// becomes one space, except that a preprocessor directive keeps a line of its own, since
// its line end is part of its meaning. Backslash-newline joins lines first.
inline std::string declarations_of(std::string_view header) {
    std::string text;
    for (std::size_t at = 0; at < header.size(); ++at) {
        if (header[at] == '\\' && at + 1 < header.size() && header[at + 1] == '\n') {
            ++at;
            continue;
        }
        text += header[at];
    }

    std::string canonical;
    bool space_pending = false;
    bool newline_pending = false;  // the line just ended was a directive, or one begins
    bool at_line_start = true;
    bool in_directive = false;
    auto emit = [&](char c) {
        if (!canonical.empty()) {
            if (newline_pending) canonical += '\n';
            else if (space_pending) canonical += ' ';
        }
        space_pending = newline_pending = at_line_start = false;
        canonical += c;
    };
    for (std::size_t at = 0; at < text.size(); ++at) {
        const char c = text[at];
        const char next = at + 1 < text.size() ? text[at + 1] : '\0';
        if (c == '/' && next == '*') {
            const std::size_t end = text.find("*/", at + 2);
            at = end == std::string::npos ? text.size() : end + 1;
            space_pending = true;
        } else if (c == '/' && next == '/') {
            while (at + 1 < text.size() && text[at + 1] != '\n') ++at;
            space_pending = true;
        } else if (c == '\n') {
            if (in_directive) newline_pending = true;
            in_directive = false;
            at_line_start = true;
            space_pending = true;
        } else if (std::isspace(static_cast<unsigned char>(c)) != 0) {
            space_pending = true;
        } else if (c == '"' || c == '\'') {
            emit(c);  // the literal, verbatim up to its closing quote
            for (++at; at < text.size() && text[at] != c; ++at) {
                canonical += text[at];
                if (text[at] == '\\' && at + 1 < text.size()) canonical += text[++at];
            }
            if (at < text.size()) canonical += c;
        } else {
            if (c == '#' && at_line_start) {
                in_directive = true;
                newline_pending = true;
            }
            emit(c);
        }
    }
    if (!canonical.empty()) canonical += '\n';
    return canonical;
}

// The SHA-256 of `text` in hex, from sha256sum (no cryptography library is a dependency);
// empty if sha256sum cannot be run.
inline std::string sha256_of_text(const std::string &text) {
    char path[] = "/tmp/sockhost-abi-fingerprint-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return {};
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    std::array<char, 65> digest{};
    if (written) {
        const std::string command = std::string("sha256sum '") + path + "'";
        FILE *pipe = ::popen(command.c_str(), "r");
        if (pipe == nullptr || std::fread(digest.data(), 1, 64, pipe) != 64) digest = {};
        if (pipe != nullptr) ::pclose(pipe);
    }
    ::unlink(path);
    return std::string(digest.data());
}

inline std::string abi_fingerprint_of(std::string_view header) { return sha256_of_text(declarations_of(header)); }

inline std::string file_text(const std::string &path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

}  // namespace sockhost::test
