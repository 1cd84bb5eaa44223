#include "request_head.hpp"

#include <array>
#include <cstddef>

namespace {

// RFC 9110 tchar: the characters of a method or a field name.
constexpr std::array<bool, 256> make_token_table() {
    std::array<bool, 256> table{};
    for (int c = '0'; c <= '9'; ++c) table[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
    for (const char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
    return table;
}
constexpr auto kTokenCharacters = make_token_table();

bool is_token(std::string_view text) {
    if (text.empty()) return false;
    for (const char c : text)
        if (!kTokenCharacters[static_cast<unsigned char>(c)]) return false;
    return true;
}

// Field values: visible characters, spaces, tabs and obs-text; no other control character.
bool is_field_value(std::string_view text) {
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && byte != '\t') || byte == 0x7f) return false;
    }
    return true;
}

bool equals_ignoring_case(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != lower[i]) return false;
    }
    return true;
}

std::string_view trim_whitespace(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// The next line from `position`, without its terminator. The head always ends in '\n'.
std::string_view next_line(std::string_view head, std::size_t &position) {
    const std::size_t newline = head.find('\n', position);
    std::size_t end = newline;
    if (end > position && head[end - 1] == '\r') --end;
    const std::string_view line = head.substr(position, end - position);
    position = newline + 1;
    return line;
}

HeadProblem parse_request_line(std::string_view line, RequestHead &parsed) {
    const std::size_t method_end = line.find(' ');
    if (method_end == std::string_view::npos) return HeadProblem::malformed;
    const std::string_view method = line.substr(0, method_end);
    const std::size_t target_end = line.find(' ', method_end + 1);
    if (target_end == std::string_view::npos) return HeadProblem::malformed;
    const std::string_view target = line.substr(method_end + 1, target_end - method_end - 1);
    const std::string_view version = line.substr(target_end + 1);

    if (!is_token(method) || target.empty()) return HeadProblem::malformed;
    for (const char c : target) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7f) return HeadProblem::malformed;
    }
    // HTTP-version = "HTTP/" DIGIT "." DIGIT
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
        return HeadProblem::malformed;
    if (version[5] != '1') return HeadProblem::version_not_supported;
    parsed.http10 = version[7] == '0';  // 1.1 and any later 1.x are served as 1.1

    parsed.method = method == "GET" ? Method::get : method == "HEAD" ? Method::head : Method::other;
    return HeadProblem::none;
}

// 1*DIGIT with no sign, no spaces and no overflow.
bool parse_content_length(std::string_view text, std::uint64_t &length) {
    if (text.empty() || text.size() > 18) return false;  // 18 digits cannot overflow
    std::uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    length = value;
    return true;
}

}  // namespace

HeadProblem parse_request_head(std::string_view head, RequestHead &parsed) {
    parsed = RequestHead{};
    std::size_t position = 0;
    if (const HeadProblem problem = parse_request_line(next_line(head, position), parsed);
        problem != HeadProblem::none)
        return problem;

    bool has_content_length = false;
    bool has_transfer_encoding = false;
    bool connection_close = false;
    bool connection_keep_alive = false;
    for (std::string_view line = next_line(head, position); !line.empty();
         line = next_line(head, position)) {
        // A leading space or tab is an obsolete line folding: RFC 9112 lets us reject it.
        if (line.front() == ' ' || line.front() == '\t') return HeadProblem::malformed;
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return HeadProblem::malformed;
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim_whitespace(line.substr(colon + 1));
        // is_token also refuses "Name :" (whitespace before the colon), as RFC 9112 requires.
        if (!is_token(name) || !is_field_value(value)) return HeadProblem::malformed;

        if (equals_ignoring_case(name, "content-length")) {
            std::uint64_t length = 0;
            if (!parse_content_length(value, length)) return HeadProblem::malformed;
            if (has_content_length && length != parsed.content_length) return HeadProblem::malformed;
            has_content_length = true;
            parsed.content_length = length;
        } else if (equals_ignoring_case(name, "transfer-encoding")) {
            has_transfer_encoding = true;
        } else if (equals_ignoring_case(name, "connection")) {
            std::string_view options = value;
            while (!options.empty()) {
                const std::size_t comma = options.find(',');
                const std::string_view option = trim_whitespace(options.substr(0, comma));
                connection_close = connection_close || equals_ignoring_case(option, "close");
                connection_keep_alive = connection_keep_alive || equals_ignoring_case(option, "keep-alive");
                options = comma == std::string_view::npos ? std::string_view() : options.substr(comma + 1);
            }
        }
    }

    // Transfer-Encoding (chunked or any other): 501 Not Implemented, as RFC 9112 section 6.1
    // advises for a transfer coding the server does not handle. The body's end cannot be
    // found without decoding it, so the connection is closed after the answer.
    if (has_transfer_encoding) return HeadProblem::transfer_coding;
    parsed.keep_alive = parsed.http10 ? connection_keep_alive && !connection_close : !connection_close;
    return HeadProblem::none;
}
