// A plugin with every optional hook of ABI 1.0, for plugin.hpp's tests (1.2's reload
// hooks are in handoff_plugin.cpp). Its config is a JSON list of flag names choosing which
// hook fails, e.g. ["handle_throws"]. Each hook that runs writes its name to the output
// (when it has a request), so the order is visible to the test.
#include <sockhost/plugin.hpp>

#include <stdexcept>
#include <string>

namespace {

struct NotReady : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Lifecycle {
public:
    // Declared, and false: connections are not handed over at a reload.
    static constexpr bool hand_off_connections = false;

    explicit Lifecycle(std::string_view config_json) : config_(config_json) {
        if (flag("constructor_throws")) throw std::runtime_error("constructor refused the config");
        if (flag("constructor_throws_int")) throw 7;
        sockhost::sdk::log(SOCKHOST_LOG_INFO, "lifecycle: created");
    }

    void process_init() {
        if (flag("process_init_throws")) throw std::runtime_error("cannot start in this process");
        sockhost::sdk::log(SOCKHOST_LOG_INFO, "lifecycle: process_init");
    }

    bool verify(sockhost::sdk::Request &request) {
        if (flag("verify_throws")) throw std::runtime_error("verify broke");
        request.log(SOCKHOST_LOG_DEBUG, "verify " + std::string(request.peer()));
        return !flag("verify_refuses");
    }

    void setup(sockhost::sdk::Request &request) {
        request.write("setup;");
        if (flag("setup_throws")) throw std::runtime_error("setup failed on purpose");
    }

    void handle(sockhost::sdk::Request &request) {
        request.write("handle;");
        if (flag("handle_throws")) throw std::runtime_error("handle failed on purpose");
        if (flag("handle_throws_int")) throw 42;
        if (flag("handle_throws_stoi")) request.write(std::to_string(std::stoi("not a number")));
        if (flag("handle_throws_own_type")) throw NotReady("the cache is cold");
        if (flag("handle_reads_exact_5")) request.write(request.read_exact(5) + ";");
    }

    void finish(sockhost::sdk::Request &request) {
        request.write("finish;");
        if (flag("finish_throws")) throw std::runtime_error("finish failed on purpose");
    }

private:
    bool flag(const std::string &name) const {
        return config_.find('"' + name + '"') != std::string::npos;
    }

    std::string config_;
};

}  // namespace

SOCKHOST_PLUGIN(Lifecycle, "sdk_lifecycle", "0.0.1", SOCKHOST_TRANSPORTS_STREAM)
