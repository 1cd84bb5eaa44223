// sockhost -c FILE               run the supervisor: serve FILE's listeners until stopped
// sockhost --check -c FILE       validate FILE and load every plugin, serving nothing
// sockhost reload -c FILE        ask the running supervisor to reload; wait for the outcome
// sockhost status -c FILE [--json]  what the running supervisor serves, and its counters
// (sockhost worker ...           internal: one worker process, started by the supervisor)
#include <sockhost/host/shared/config.hpp>
#include <sockhost/host/supervisor/control_socket.hpp>
#include <sockhost/host/supervisor/status_text.hpp>
#include <sockhost/host/host_process.hpp>
#include <sockhost/host/shared/descriptor_limit.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/plugin.h>

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#ifndef SOCKHOST_VERSION
#define SOCKHOST_VERSION "0.0.0"
#endif

namespace {

using namespace sockhost;

int reload(const std::string &config_file) {
    auto config = load_config(config_file);
    if (!config) {
        std::cerr << "sockhost reload: " << config.error().message << "\n";
        return exit_runtime_failure;
    }
    if (config->control_socket.empty()) {
        std::cerr << "sockhost reload: config " << config_file
                  << " has no control_socket: set one, or send SIGHUP to the supervisor (no outcome is reported then)\n";
        return exit_runtime_failure;
    }
    // The new generation has ready_timeout to start; the supervisor answers by then.
    auto answer = request_reload(config->control_socket, config->ready_timeout + std::chrono::seconds(30));
    if (!answer) {
        std::cerr << "sockhost reload: " << answer.error().message << "\n";
        return exit_runtime_failure;
    }
    if (answer->starts_with("ok ")) {
        std::cout << "reload: " << answer->substr(3) << "\n";
        return exit_ok;
    }
    std::cerr << "reload failed: " << (answer->starts_with("failed ") ? answer->substr(7) : *answer) << "\n";
    return exit_runtime_failure;
}

int status(const std::string &config_file, bool as_json) {
    auto config = load_config(config_file);
    if (!config) {
        std::cerr << "sockhost status: " << config.error().message << "\n";
        return exit_runtime_failure;
    }
    if (config->control_socket.empty()) {
        std::cerr << "sockhost status: config " << config_file << " has no control_socket: set one\n";
        return exit_runtime_failure;
    }
    auto answer = request_control(config->control_socket, "status", std::chrono::seconds(10));
    if (!answer) {
        std::cerr << "sockhost status: " << answer.error().message << "\n";
        return exit_runtime_failure;
    }
    if (!answer->starts_with("ok ")) {
        std::cerr << "sockhost status: " << (answer->starts_with("failed ") ? answer->substr(7) : *answer) << "\n";
        return exit_runtime_failure;
    }
    const std::string json_text = answer->substr(3);
    if (as_json) {
        std::cout << json_text << "\n";
        return exit_ok;
    }
    auto text = format_status(json_text);
    if (!text) {
        std::cerr << "sockhost status: " << text.error().message << "\n";
        return exit_runtime_failure;
    }
    std::cout << *text;
    return exit_ok;
}

}  // namespace

int main(int argc, char **argv) {
    // Before any thread exists, so every thread inherits the blocked signals.
    prepare_process_signals();
    raise_descriptor_limit();  // every process: the supervisor's limit is its workers'

    CLI::App app{"sockhost: serves TCP, UDP and Unix sockets with request handlers loaded from plugins"};
    std::string config_file;
    bool check = false;
    app.add_option("-c,--config", config_file, "JSON configuration file");
    app.add_flag("--check", check, "validate the configuration and load every plugin, then exit (0 valid, 2 not)");
    app.set_version_flag("--version", std::string("sockhost ") + SOCKHOST_VERSION + " (plugin ABI " +
                                          std::to_string(SOCKHOST_ABI_MAJOR) + "." +
                                          std::to_string(SOCKHOST_ABI_MINOR) + ")");
    app.require_subcommand(0, 1);

    auto *reload_command = app.add_subcommand("reload", "ask the running sockhost (through control_socket) to reload "
                                                        "and wait for the outcome (exit 0 ok, 1 failed)");
    std::string reload_config;
    reload_command->add_option("-c,--config", reload_config, "the running sockhost's configuration file")->required();

    auto *status_command = app.add_subcommand("status", "show what the running sockhost (through control_socket) "
                                                        "serves: generations, workers, listeners and their counters");
    std::string status_config;
    bool status_json = false;
    status_command->add_option("-c,--config", status_config, "the running sockhost's configuration file")->required();
    status_command->add_flag("--json", status_json, "print the supervisor's JSON answer as it is");

    // Internal: started by the supervisor, never by hand.
    auto *worker_command = app.add_subcommand(WorkerArguments::kCommand, "");
    worker_command->group("");
    WorkerArguments worker;
    worker_command->add_option(WorkerArguments::kGenerationOption, worker.generation)->required();
    worker_command->add_option(WorkerArguments::kIndexOption, worker.index)->required();
    worker_command->add_option(WorkerArguments::kConfigFdOption, worker.config_fd)->required();
    worker_command->add_option(WorkerArguments::kStatusFdOption, worker.status_fd)->required();
    worker_command->add_option(WorkerArguments::kListenersOption, worker.listeners)->delimiter(',');
    worker_command->add_option(WorkerArguments::kActivityFdOption, worker.activity_fd);
    worker_command->add_option(WorkerArguments::kMetricsFdOption, worker.metrics_fd);
    worker_command->add_option(WorkerArguments::kHandoffFdOption, worker.handoff_fd);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &error) {
        const int code = app.exit(error);
        return code == 0 ? exit_ok : exit_startup_failure;
    }
    if (*worker_command) return run_worker(worker);
    if (*reload_command) return reload(reload_config);
    if (*status_command) return status(status_config, status_json);
    if (config_file.empty()) {
        std::cerr << "--config is required\nRun with --help for more information.\n";
        return exit_startup_failure;
    }
    if (check) return check_configuration(config_file);
    return run_supervisor(config_file);
}
