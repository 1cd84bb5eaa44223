// The harness's loaded plugin: an entry function, or a shared object opened as the host
// opens it, given the fake host table and checked as the host checks a descriptor.
#ifndef SOCKHOST_TESTING_PLUGIN_HPP
#define SOCKHOST_TESTING_PLUGIN_HPP

#include <sockhost/descriptor_check.hpp>
#include <sockhost/plugin.h>
#include <sockhost/testing/fake_host.hpp>

#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

namespace sockhost::sdk::testing {

// A loaded plugin: its entry was called with the harness's host table and its descriptor
// checked as the host checks it. Throws std::runtime_error with a one-line reason.
class Plugin {
public:
    explicit Plugin(sockhost_plugin_entry_fn entry, std::string origin = "entry function")
        : origin_(std::move(origin)) {
        if (entry == nullptr) throw std::runtime_error(origin_ + ": no entry function");
        descriptor_ = entry(&host_api());
        check_descriptor();
    }

    // Opens a shared object with RTLD_NOW | RTLD_LOCAL, as the host does. The image stays
    // mapped until the process exits: dlclose may not unload, and a later load of the same
    // path must find the same image, as in the host.
    explicit Plugin(const std::filesystem::path &shared_object) : origin_(shared_object.string()) {
        void *image = ::dlopen(origin_.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (image == nullptr) throw std::runtime_error(origin_ + ": " + ::dlerror());
        void *symbol = ::dlsym(image, SOCKHOST_PLUGIN_ENTRY_SYMBOL);
        if (symbol == nullptr)
            throw std::runtime_error(origin_ + ": no symbol " SOCKHOST_PLUGIN_ENTRY_SYMBOL);
        descriptor_ = reinterpret_cast<sockhost_plugin_entry_fn>(symbol)(&host_api());
        check_descriptor();
    }

    const sockhost_plugin_descriptor &descriptor() const noexcept { return *descriptor_; }
    const std::string &origin() const noexcept { return origin_; }

private:
    void check_descriptor() const {
        if (std::string problem = ::sockhost::descriptor_problem(descriptor_); !problem.empty())
            throw std::runtime_error(origin_ + ": " + problem);
    }

    std::string origin_;
    const sockhost_plugin_descriptor *descriptor_ = nullptr;
};

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_PLUGIN_HPP
