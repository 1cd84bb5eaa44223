// The harness's one-call test: a whole instance lifecycle around one request.
#ifndef SOCKHOST_TESTING_RUN_HPP
#define SOCKHOST_TESTING_RUN_HPP

#include <sockhost/testing/input.hpp>
#include <sockhost/testing/instance.hpp>
#include <sockhost/testing/plugin.hpp>
#include <sockhost/testing/results.hpp>

#include <cstddef>
#include <string_view>
#include <type_traits>
#include <utility>

namespace sockhost::sdk::testing {

// The whole lifecycle for one request: create -> process_init -> verify -> setup ->
// handle -> finish -> destroy. Stops after a failed create (no destroy) or a failed
// process_init (then destroy). `hooks` and `log` hold the lifecycle's entries too.
inline RunResult run(const Plugin &plugin, std::string_view config_json, const Input &input) {
    RunResult result;
    Instance instance(plugin, config_json);
    result.create = instance.create_status();
    result.create_error = instance.create_error();
    result.process_init = instance.process_init_status();
    const std::size_t lifecycle_hooks_before = instance.hooks().size();
    const std::size_t lifecycle_log_before = instance.log().size();
    if (instance.ready()) static_cast<RequestResult &>(result) = instance.serve(input);
    instance.close();

    auto splice = [](const auto &lifecycle, std::size_t before, auto &request_part) {
        std::decay_t<decltype(request_part)> all(lifecycle.begin(), lifecycle.begin() + before);
        all.insert(all.end(), request_part.begin(), request_part.end());
        all.insert(all.end(), lifecycle.begin() + before, lifecycle.end());
        request_part = std::move(all);
    };
    splice(instance.hooks(), lifecycle_hooks_before, result.hooks);
    splice(instance.log(), lifecycle_log_before, result.log);
    return result;
}

}  // namespace sockhost::sdk::testing

#endif  // SOCKHOST_TESTING_RUN_HPP
