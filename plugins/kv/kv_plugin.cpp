// kv: a key-value store in memory, over a line protocol. One command per line, ending in
// "\n" or "\r\n"; each gets one reply line, ending as the command's line did.
//
//   SET key value   -> OK                      (value: the rest of the line, spaces allowed)
//   GET key         -> VALUE value | NOT_FOUND
//   DEL key         -> DELETED | NOT_FOUND
//   COUNT           -> COUNT n
//   anything else   -> ERROR <reason>
//
// Command words are case-insensitive; keys are case-sensitive and have no spaces. A stream
// is served line by line until end of input; each line of a datagram gets its reply line,
// all sent back as one datagram.
//
// As socketserver warns for its forking mix-in: the store lives in the process that runs
// the request. Under the forking mode each request runs in a child process, so a SET is
// lost when its request ends. Use the sync or threading mode to keep data.
//
// Reloads keep both the connections and the data: an idle connection moves to the next
// generation (it holds no state of its own beyond the lines not yet read, which move with
// it), and the next generation's kv imports the whole store (kv_state.hpp) before it
// serves. The store exported is the worker's: under the forking mode that is the parent's,
// which no SET reaches, so each child's SETs are still lost.
//
// Metrics: kv_keys (a gauge: keys in the store) and kv_commands_total (lines answered).
#include "key_value_store.hpp"
#include "kv_state.hpp"

#include <sockhost/config.hpp>
#include <sockhost/plugin.hpp>

#include <cctype>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace {

// Trims the line terminator and says which one it was.
std::string_view strip_line_end(std::string_view line, bool &crlf) {
    crlf = false;
    if (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
            crlf = true;
        }
    }
    return line;
}

bool same_word(std::string_view word, std::string_view upper) {
    if (word.size() != upper.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(word[i])) != upper[i]) return false;
    return true;
}

// Splits "first rest" at the first space; `rest` is empty when there is none.
std::string_view split_first(std::string_view text, std::string_view &rest) {
    const std::size_t space = text.find(' ');
    if (space == std::string_view::npos) {
        rest = {};
        return text;
    }
    rest = text.substr(space + 1);
    return text.substr(0, space);
}

class KeyValue {
public:
    static constexpr bool hand_off_connections = true;

    KeyValue(std::string_view config_json, sockhost::sdk::InstanceContext &context)
        : keys_(context.gauge("kv_keys", "Keys in the store of the process that serves")),
          commands_(context.counter("kv_commands_total", "Command lines answered, errors included")) {
        const sockhost::sdk::Config config("kv", config_json, {"max_line_bytes"});
        max_line_bytes_ = config.unsigned_integer("max_line_bytes", 64 * 1024, 16, 64 * 1024 * 1024);
        sockhost::sdk::log(SOCKHOST_LOG_INFO,
                      "kv: data is kept in the serving process; under the forking mode each "
                      "request runs in a child process, so its SETs do not survive the request");
    }

    void handle(sockhost::sdk::Request &request) {
        // One buffer per request, on the heap (event-mode fiber stacks are small). A line
        // longer than max_line_bytes ends the request with an error (IoError).
        const std::size_t capacity = max_line_bytes_ + 1;
        const auto buffer = std::make_unique_for_overwrite<char[]>(capacity);
        for (std::string_view line = request.read_line(buffer.get(), capacity); !line.empty();
             line = request.read_line(buffer.get(), capacity)) {
            bool crlf = false;
            std::string reply = execute(strip_line_end(line, crlf));
            commands_.inc();
            reply += crlf ? "\r\n" : "\n";
            request.write(reply);
            request.flush();  // a no-op for datagrams: their reply goes at finish
            request.between_requests();  // the host still holds any pipelined lines
        }
    }

    // On the worker's main thread while requests go on: the snapshot takes the store's
    // shared lock, so SETs wait only for the copy, never for the encoding.
    std::string export_state() const { return encode_kv_state(store_.snapshot()); }

    // Before the first request; a state that does not decode fails the reload, and the
    // previous generation keeps serving with its data.
    void import_state(std::string_view state) {
        DecodedKvState decoded = decode_kv_state(state);
        if (!decoded.ok()) throw std::runtime_error(decoded.error);
        const std::size_t count = decoded.entries.size();
        store_.replace_all(std::move(decoded.entries));
        keys_.set(static_cast<double>(store_.size()));
        sockhost::sdk::log(SOCKHOST_LOG_INFO, ("kv: imported " + std::to_string(count) + " keys").c_str());
    }

private:
    std::string execute(std::string_view command_line) {
        std::string_view arguments;
        const std::string_view command = split_first(command_line, arguments);
        if (command.empty()) return "ERROR empty command";
        if (same_word(command, "SET")) {
            std::string_view value;
            const std::string_view key = split_first(arguments, value);
            if (!is_kv_key(key) || value.empty()) return "ERROR usage: SET key value";
            store_.set(key, value);
            keys_.set(static_cast<double>(store_.size()));
            return "OK";
        }
        if (same_word(command, "GET")) {
            if (!is_kv_key(arguments)) return "ERROR usage: GET key";
            const auto value = store_.get(arguments);
            return value ? "VALUE " + *value : "NOT_FOUND";
        }
        if (same_word(command, "DEL")) {
            if (!is_kv_key(arguments)) return "ERROR usage: DEL key";
            if (!store_.erase(arguments)) return "NOT_FOUND";
            keys_.set(static_cast<double>(store_.size()));
            return "DELETED";
        }
        if (same_word(command, "COUNT")) {
            if (!arguments.empty() || command_line.size() != command.size()) return "ERROR usage: COUNT";
            return "COUNT " + std::to_string(store_.size());
        }
        return "ERROR unknown command '" + std::string(command) + "'";
    }

    std::size_t max_line_bytes_ = 0;
    KeyValueStore store_;
    // Metrics (ABI 1.3). Under forking, kv_keys is the store of the child that answered last.
    sockhost::sdk::Gauge keys_;
    sockhost::sdk::Counter commands_;
};

}  // namespace

SOCKHOST_PLUGIN(KeyValue, "kv", "1.2.0", SOCKHOST_TRANSPORTS_ALL)
