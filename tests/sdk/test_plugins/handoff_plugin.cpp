// A plugin with every reload opt-in of ABI 1.2, for plugin.hpp's tests. One command per
// line, each answered and followed by between_requests:
//   NAME x   -> attaches "x" as the connection's handoff state, and remembers x
//   BIG      -> attaches more than SOCKHOST_HANDOFF_STATE_MAX bytes (the request fails)
//   NAMES    -> the names remembered, or imported from the previous generation
// A connection first gets "hello", or "welcome back <state>" when it was handed over. The
// instance's state is "names:" and the names, one per line. Its config is a JSON list of
// flag names: "export_throws", "export_throws_int", "import_throws_int".
#include <sockhost/plugin.hpp>

#include <mutex>
#include <stdexcept>
#include <string>

namespace {

class Handoff {
public:
    static constexpr bool hand_off_connections = true;

    explicit Handoff(std::string_view config_json) : config_(config_json) {}

    void handle(sockhost::sdk::Request &request) {
        const auto handed_over = request.handoff_state();
        request.write(handed_over ? "welcome back " + std::string(*handed_over) + "\n" : std::string("hello\n"));
        for (std::string line = request.read_line(); !line.empty(); line = request.read_line()) {
            if (line.back() == '\n') line.pop_back();
            if (line.starts_with("NAME ")) {
                const std::string name = line.substr(5);
                request.set_handoff_state(name);
                remember(name);
                request.write("ok\n");
            } else if (line == "BIG") {
                request.set_handoff_state(std::string(SOCKHOST_HANDOFF_STATE_MAX + 1, 'x'));
            } else if (line == "NAMES") {
                request.write(names() + "\n");
            } else {
                request.write("unknown\n");
            }
            request.between_requests();
        }
    }

    std::string export_state() {
        if (flag("export_throws")) throw std::runtime_error("cannot export now");
        if (flag("export_throws_int")) throw 3;
        return "names:" + names();
    }

    void import_state(std::string_view state) {
        if (flag("import_throws_int")) throw 4;
        if (!state.starts_with("names:"))
            throw std::runtime_error("not a handoff plugin state: '" + std::string(state.substr(0, 8)) + "'");
        const std::lock_guard lock(mutex_);
        names_ = state.substr(6);
    }

private:
    bool flag(const std::string &name) const { return config_.find('"' + name + '"') != std::string::npos; }

    void remember(const std::string &name) {
        const std::lock_guard lock(mutex_);
        if (!names_.empty()) names_ += ',';
        names_ += name;
    }
    std::string names() const {
        const std::lock_guard lock(mutex_);
        return names_;
    }

    std::string config_;
    mutable std::mutex mutex_;  // export_state runs on the main thread while requests run
    std::string names_;
};

}  // namespace

SOCKHOST_PLUGIN(Handoff, "sdk_handoff", "0.0.1", SOCKHOST_TRANSPORTS_ALL)
