// A plugin for ABI 1.4's members, over real hosts and the harness alike: error kinds
// (IoError::kind), a request's user data (one Trail per request, which logs the hooks it
// saw when it is released) and where an instance runs (InstanceContext::info). A stream
// request is a conversation of lines:
//   "info"     -> "mode=M generation=G worker=W listener=NAME address=A"
//   "replace"  -> a new Trail replaces the request's ("replaced"); the old one is released
//   "quit"     -> the request ends
//   other      -> "line=<it>"
// A line longer than `max_line` is answered "error kind=line_too_long", skipped in pieces
// with read (read_line consumed none of it) and the conversation goes on; a read that
// times out or meets a peer that went away ends the request quietly with a log line
// "ended: kind=K". A datagram is one line.
#include <sockhost/plugin.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace {

using sockhost::sdk::IoError;
using sockhost::sdk::IoErrorKind;

std::string kind_name(IoErrorKind kind) {
    switch (kind) {
        case IoErrorKind::timeout: return "timeout";
        case IoErrorKind::peer_gone: return "peer_gone";
        case IoErrorKind::cancelled: return "cancelled";
        case IoErrorKind::line_too_long: return "line_too_long";
        case IoErrorKind::other: break;
    }
    return "other";
}

void log_line(const std::string &text) {
    if (sockhost::sdk::host_api != nullptr)
        sockhost::sdk::host_api->log(nullptr, SOCKHOST_LOG_INFO, ("request_context: " + text).c_str());
}

// The hooks a request's user data saw; says so when the host releases it.
struct Trail {
    std::string hooks;
    bool replaced = false;
    ~Trail() { log_line("released user data after " + hooks + (replaced ? " (replaced)" : "")); }
};

class RequestContextProbe {
public:
    RequestContextProbe(std::string_view config_json, sockhost::sdk::InstanceContext &context) {
        const auto config = nlohmann::json::parse(config_json);
        for (const auto &[key, value] : config.items()) {
            if (key == "max_line") max_line_ = value.get<std::size_t>();
            else if (key == "refuse_mode") refuse_mode_ = value.get<std::string>();
            else throw std::runtime_error("unknown config key '" + key + "'");
        }
        const auto info = context.info();
        if (!info) throw std::runtime_error("the host gave no instance info");
        info_ = *info;
        const std::string_view mode = sockhost::sdk::mode_name(info_.mode);
        if (mode == refuse_mode_)
            throw std::runtime_error("refusing the " + refuse_mode_ + " mode: this plugin keeps state across requests");
        log_line("instance of generation " + std::to_string(info_.generation) + " worker " +
                 std::to_string(info_.worker_index) + " for " + info_.address + " in " + std::string(mode) + " mode");
    }

    bool verify(sockhost::sdk::Request &request) {
        request.emplace_user_data<Trail>().hooks = "verify";
        return true;
    }
    void setup(sockhost::sdk::Request &request) { trail(request).hooks += ",setup"; }
    void finish(sockhost::sdk::Request &request) { trail(request).hooks += ",finish"; }

    void handle(sockhost::sdk::Request &request) {
        trail(request).hooks += ",handle";
        do {
            std::string line;
            try {
                line = request.read_line(max_line_);
            } catch (const IoError &failure) {
                if (failure.kind() != IoErrorKind::line_too_long) {
                    log_line("ended: kind=" + kind_name(failure.kind()));
                    return;
                }
                request.write("error kind=line_too_long\n");
                skip_line(request);
                continue;
            }
            if (line.empty()) return;
            if (line.back() == '\n') line.pop_back();
            if (line == "quit") return;
            if (line == "info") {
                request.write("mode=" + std::string(sockhost::sdk::mode_name(info_.mode)) +
                              " generation=" + std::to_string(info_.generation) +
                              " worker=" + std::to_string(info_.worker_index) + " listener=" + info_.listener_name +
                              " address=" + info_.address + "\n");
            } else if (line == "replace") {
                trail(request).replaced = true;
                request.emplace_user_data<Trail>().hooks = "replacement";
                request.write("replaced\n");
            } else {
                request.write("line=" + line + "\n");
            }
            request.flush();
        } while (!request.is_datagram());
    }

private:
    static Trail &trail(sockhost::sdk::Request &request) {
        Trail *trail = request.user_data<Trail>();
        if (trail == nullptr) throw std::runtime_error("no user data: verify did not run");
        return *trail;
    }

    // Reads the line read_line refused, to its '\n': a byte at a time, from the host's
    // buffer, so that the next line stays unread.
    static void skip_line(sockhost::sdk::Request &request) {
        char byte = '\0';
        while (request.read(&byte, 1) == 1 && byte != '\n') {
        }
    }

    std::size_t max_line_ = 32;
    std::string refuse_mode_;
    sockhost::sdk::InstanceInfo info_;
};

}  // namespace

SOCKHOST_PLUGIN(RequestContextProbe, "request_context_probe", "1.0.0", SOCKHOST_TRANSPORTS_ALL)
