#include <sockhost/host/worker/plugin/plugin_loader.hpp>

#include <sockhost/host/worker/plugin/host_api.hpp>
#include <sockhost/host/shared/log.hpp>
#include <sockhost/host/worker/plugin/plugin_file_check.hpp>
#include <sockhost/host/worker/plugin/plugin_metrics.hpp>
#include <sockhost/descriptor_check.hpp>

#include <dlfcn.h>
#include <elf.h>

#include <cstddef>
#include <fstream>

namespace sockhost {

namespace {

std::unexpected<Error> plugin_error(const std::filesystem::path &file, const std::string &reason) {
    return fail("plugin " + file.string() + ": " + reason);
}

// Checks the file is an ELF shared object for this machine before dlopen sees it, so the
// error says what is wrong instead of dlopen's generic message.
Result<void> check_elf_file(const std::filesystem::path &file) {
    std::error_code error;
    const auto status = std::filesystem::status(file, error);
    if (!std::filesystem::exists(status)) return plugin_error(file, "file not found");
    if (!std::filesystem::is_regular_file(status)) return plugin_error(file, "not a regular file");
    std::ifstream input(file, std::ios::binary);
    if (!input) return plugin_error(file, "cannot open for reading");
    Elf64_Ehdr header{};
    input.read(reinterpret_cast<char *>(&header), sizeof header);
    if (input.gcount() < static_cast<std::streamsize>(EI_NIDENT) ||
        std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
        return plugin_error(file, "not a shared object (no ELF header)");
    if (input.gcount() < static_cast<std::streamsize>(sizeof header) || header.e_ident[EI_CLASS] != ELFCLASS64)
        return plugin_error(file, "not a 64-bit ELF shared object");
    if (header.e_type != ET_DYN) return plugin_error(file, "an ELF file but not a shared object");
#if defined(__x86_64__)
    if (header.e_machine != EM_X86_64) return plugin_error(file, "built for another processor architecture");
#elif defined(__aarch64__)
    if (header.e_machine != EM_AARCH64) return plugin_error(file, "built for another processor architecture");
#endif
    return {};
}

// Boost.DLL clears dlerror() when a load fails; ask the loader again for its reason.
std::string dlopen_failure_reason(const std::filesystem::path &file) {
    void *handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
        ::dlclose(handle);
        return "cannot load";
    }
    const char *reason = ::dlerror();
    return std::string("cannot load: ") + (reason != nullptr ? reason : "unknown reason");
}

}  // namespace

Result<void> check_abi_version(std::uint16_t plugin_major, std::uint16_t plugin_minor) {
    if (std::string problem = abi_version_problem(plugin_major, plugin_minor); !problem.empty()) return fail(problem);
    return {};
}

Result<std::shared_ptr<LoadedPlugin>> LoadedPlugin::load(const std::filesystem::path &file, bool strict_modes) {
    if (strict_modes) {
        if (auto safe = check_plugin_file_safety(file); !safe) return std::unexpected(safe.error());
    }
    if (auto elf = check_elf_file(file); !elf) return std::unexpected(elf.error());
    auto plugin = std::shared_ptr<LoadedPlugin>(new LoadedPlugin());
    plugin->file_ = file;
    boost::dll::fs::error_code error;
    plugin->library_.load(file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, error);
    if (error) return plugin_error(file, dlopen_failure_reason(file));
    if (!plugin->library_.has(SOCKHOST_PLUGIN_ENTRY_SYMBOL))
        return plugin_error(file, std::string("entry symbol '") + SOCKHOST_PLUGIN_ENTRY_SYMBOL +
                                      "' not found (a C++ plugin defines it with SOCKHOST_PLUGIN; one written by "
                                      "hand needs extern \"C\" and SOCKHOST_EXPORT)");
    auto &entry = plugin->library_.get<const sockhost_plugin_descriptor *(const sockhost_host_api *)>(
        SOCKHOST_PLUGIN_ENTRY_SYMBOL);
    try {
        plugin->descriptor_ = entry(host_api_table());
    } catch (...) {  // the ABI forbids it; survive a plugin that throws anyway
        return plugin_error(file, "entry function threw an exception");
    }
    if (std::string problem = descriptor_problem(plugin->descriptor_); !problem.empty())
        return plugin_error(file, problem);
    return plugin;
}

PluginHandler::PluginHandler(std::shared_ptr<LoadedPlugin> plugin)
    : plugin_(std::move(plugin)), descriptor_(plugin_->descriptor()), name_(plugin_->name()) {}

namespace {

std::uint32_t mode_to_abi(Mode mode) {
    switch (mode) {
        case Mode::sync: return SOCKHOST_MODE_SYNC;
        case Mode::threading: return SOCKHOST_MODE_THREADING;
        case Mode::forking: return SOCKHOST_MODE_FORKING;
        case Mode::event: return SOCKHOST_MODE_EVENT;
    }
    return 0;
}

}  // namespace

Result<std::unique_ptr<PluginHandler>> PluginHandler::create(std::shared_ptr<LoadedPlugin> plugin,
                                                             const std::string &config_json, InstancePlace place) {
    std::unique_ptr<PluginHandler> handler(new PluginHandler(std::move(plugin)));
    const auto &descriptor = handler->descriptor_;
    const bool with_context =
        SOCKHOST_DESCRIPTOR_HAS(&descriptor, create_with_context) && descriptor.create_with_context != nullptr;
    if (descriptor.create == nullptr && !with_context) return handler;
    char reason[512] = {};
    sockhost_status status = SOCKHOST_ERROR;
    auto &context = handler->context_;
    context.table = &plugin_metrics_table();
    context.listener = place.listener_index;
    context.plugin = handler->name_;
    context.listener_name = std::move(place.listener_name);
    context.address = std::move(place.address);
    context.info = {
        .struct_size = sizeof(sockhost_instance_info),
        .transport = static_cast<std::uint32_t>(to_abi(place.transport)),
        .mode = mode_to_abi(place.mode),
        .worker_index = place.worker_index,
        .generation = place.generation,
        .listener_name = context.listener_name.c_str(),
        .address = context.address.c_str(),
    };
    try {
        status = with_context ? descriptor.create_with_context(&handler->context_, config_json.c_str(),
                                                               &handler->instance_, reason, sizeof reason)
                              : descriptor.create(config_json.c_str(), &handler->instance_, reason, sizeof reason);
    } catch (...) {
        std::snprintf(reason, sizeof reason, "create threw an exception");
    }
    handler->context_.open = false;
    if (status != SOCKHOST_OK) {
        handler->instance_ = nullptr;  // a failed create owns nothing to destroy
        reason[sizeof reason - 1] = '\0';
        return plugin_error(handler->plugin_->file(),
                            std::string("rejected its config: ") + (reason[0] != '\0' ? reason : "no reason given"));
    }
    return handler;
}

PluginHandler::~PluginHandler() {
    if (descriptor_.destroy == nullptr || instance_ == nullptr) return;
    try {
        descriptor_.destroy(instance_);
    } catch (...) {
        log_error(name_ + ": destroy threw an exception");
    }
}

bool PluginHandler::supports(Transport transport) const { return (descriptor_.transports & to_abi(transport)) != 0; }

Result<void> PluginHandler::process_init() {
    if (descriptor_.process_init == nullptr) return {};
    sockhost_status status = SOCKHOST_ERROR;
    try {
        status = descriptor_.process_init(instance_);
    } catch (...) {
    }
    if (status != SOCKHOST_OK) return plugin_error(plugin_->file(), "process_init failed");
    return {};
}

namespace {

// Runs one request hook, turning an escaped exception (an ABI violation) into an error.
template <typename Hook>
sockhost_status call_hook(Hook hook, void *instance, Request &request) {
    if (hook == nullptr) return SOCKHOST_OK;
    try {
        return hook(instance, &request);
    } catch (...) {
        request.set_handler_error("hook threw an exception across the C ABI");
        return SOCKHOST_ERROR;
    }
}

}  // namespace

bool PluginHandler::verify(Request &request) {
    if (descriptor_.verify == nullptr) return true;
    try {
        return descriptor_.verify(instance_, &request);
    } catch (...) {
        return false;
    }
}

sockhost_status PluginHandler::setup(Request &request) { return call_hook(descriptor_.setup, instance_, request); }
sockhost_status PluginHandler::handle(Request &request) { return call_hook(descriptor_.handle, instance_, request); }
sockhost_status PluginHandler::finish(Request &request) { return call_hook(descriptor_.finish, instance_, request); }

// Members of ABI 1.2: read only from a descriptor that has them (an older plugin's is shorter).
bool PluginHandler::hands_off_connections() const {
    return SOCKHOST_DESCRIPTOR_HAS(&descriptor_, handoff) && (descriptor_.handoff & SOCKHOST_HANDOFF_CONNECTIONS) != 0;
}

bool PluginHandler::exports_state() const {
    return SOCKHOST_DESCRIPTOR_HAS(&descriptor_, export_state) && descriptor_.export_state != nullptr;
}

bool PluginHandler::imports_state() const {
    return SOCKHOST_DESCRIPTOR_HAS(&descriptor_, import_state) && descriptor_.import_state != nullptr;
}

Result<std::string> PluginHandler::export_state() {
    if (!exports_state()) return std::string();
    const void *data = nullptr;
    std::size_t length = 0;
    sockhost_status status = SOCKHOST_ERROR;
    try {
        status = descriptor_.export_state(instance_, &data, &length);
    } catch (...) {
        return plugin_error(plugin_->file(), "export_state threw an exception across the C ABI");
    }
    if (status != SOCKHOST_OK) return plugin_error(plugin_->file(), "export_state failed");
    if (data == nullptr && length != 0) return plugin_error(plugin_->file(), "export_state gave no data for " + std::to_string(length) + " bytes");
    return std::string(static_cast<const char *>(data), length);
}

Result<void> PluginHandler::import_state(std::string_view state) {
    if (!imports_state()) return {};
    char reason[512] = {};
    sockhost_status status = SOCKHOST_ERROR;
    try {
        status = descriptor_.import_state(instance_, state.data(), state.size(), reason, sizeof reason);
    } catch (...) {
        std::snprintf(reason, sizeof reason, "import_state threw an exception across the C ABI");
    }
    if (status == SOCKHOST_OK) return {};
    reason[sizeof reason - 1] = '\0';
    return plugin_error(plugin_->file(), std::string("import_state refused the previous generation's state: ") +
                                             (reason[0] != '\0' ? reason : "no reason given"));
}

}  // namespace sockhost
