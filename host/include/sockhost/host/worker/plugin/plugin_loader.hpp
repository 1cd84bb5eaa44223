// Loading a plugin file and checking what it declares, and the per-listener instance.
// Every failure is one line naming the file and the reason; nothing here crashes on a
// bad file.
#pragma once

#include <sockhost/host/shared/address.hpp>
#include <sockhost/host/shared/error.hpp>
#include <sockhost/host/shared/server_options.hpp>
#include <sockhost/host/worker/handler.hpp>
#include <sockhost/host/worker/plugin/plugin_metrics.hpp>
#include <sockhost/plugin.h>

#include <boost/dll/shared_library.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace sockhost {

// Refuses a plugin built for another ABI: a different major, or a newer minor.
Result<void> check_abi_version(std::uint16_t plugin_major, std::uint16_t plugin_minor);

// A loaded plugin file. Never unloaded while an instance of it lives (instances hold it).
class LoadedPlugin {
public:
    // With `strict_modes` the file and its directories must pass check_plugin_file_safety
    // (for this process's effective user) before the dynamic loader sees the file.
    static Result<std::shared_ptr<LoadedPlugin>> load(const std::filesystem::path &file, bool strict_modes = true);

    const sockhost_plugin_descriptor &descriptor() const { return *descriptor_; }
    const std::filesystem::path &file() const { return file_; }
    std::string name() const { return descriptor_->name != nullptr ? descriptor_->name : file_.stem().string(); }

private:
    boost::dll::shared_library library_;
    const sockhost_plugin_descriptor *descriptor_ = nullptr;
    std::filesystem::path file_;
};

// Where an instance runs: its metrics' listener, and what instance_info (ABI 1.4) tells
// create_with_context. Generation and worker index are 0 outside a worker (--check).
struct InstancePlace {
    int listener_index = -1;  // in the whole configuration
    Transport transport = Transport::tcp;
    Mode mode = Mode::sync;
    std::string listener_name;
    std::string address;
    std::uint64_t generation = 0;
    std::uint32_t worker_index = 0;
};

// One instance of a plugin (its create/destroy), serving one listener.
class PluginHandler final : public Handler {
public:
    // Calls the plugin's create (or create_with_context, told `place`) with the
    // listener's config JSON; its refusal is the error.
    static Result<std::unique_ptr<PluginHandler>> create(std::shared_ptr<LoadedPlugin> plugin,
                                                         const std::string &config_json, InstancePlace place = {});
    ~PluginHandler() override;

    std::string_view name() const override { return name_; }
    bool supports(Transport transport) const override;
    Result<void> process_init() override;
    bool verify(Request &request) override;
    sockhost_status setup(Request &request) override;
    sockhost_status handle(Request &request) override;
    sockhost_status finish(Request &request) override;
    bool hands_off_connections() const override;
    bool exports_state() const override;
    bool imports_state() const override;
    Result<std::string> export_state() override;
    Result<void> import_state(std::string_view state) override;

private:
    explicit PluginHandler(std::shared_ptr<LoadedPlugin> plugin);

    std::shared_ptr<LoadedPlugin> plugin_;
    const sockhost_plugin_descriptor &descriptor_;
    std::string name_;
    // What create_with_context was given; kept (closed) so a plugin that calls
    // declare_metric later with it gets a refusal, not a dangling pointer.
    sockhost_instance_context context_;
    void *instance_ = nullptr;
};

}  // namespace sockhost
