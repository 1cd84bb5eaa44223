// sockhost --config FILE: serve the listeners of FILE until stopped by a signal.
#include <sockhost/host/config.hpp>
#include <sockhost/host/host_process.hpp>
#include <sockhost/host/log.hpp>
#include <sockhost/plugin.h>

#include <CLI/CLI.hpp>

#include <string>

#ifndef SOCKHOST_VERSION
#define SOCKHOST_VERSION "0.0.0"
#endif

int main(int argc, char **argv) {
    using namespace sockhost;
    // Before any thread exists, so every thread inherits the blocked stop signals.
    prepare_process_signals();

    CLI::App app{"sockhost: serves TCP, UDP and Unix sockets with request handlers loaded from plugins"};
    std::string config_file;
    app.add_option("-c,--config", config_file, "JSON configuration file")->required();
    app.set_version_flag("--version", std::string("sockhost ") + SOCKHOST_VERSION + " (plugin ABI " +
                                          std::to_string(SOCKHOST_ABI_MAJOR) + "." +
                                          std::to_string(SOCKHOST_ABI_MINOR) + ")");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &error) {
        const int code = app.exit(error);
        return code == 0 ? exit_ok : exit_startup_failure;
    }

    auto config = load_config(config_file);
    if (!config) {
        log_error(config.error().message + "; not started");
        return exit_startup_failure;
    }
    return run_host(*config);
}
