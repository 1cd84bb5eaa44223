#include <sockhost/host/supervisor/status_text.hpp>

#include <nlohmann/json.hpp>


namespace sockhost {

Result<std::string> format_status(std::string_view json_text) {
    using nlohmann::json;
    try {
        const json status = json::parse(json_text);
        std::string text = std::string("ready: ") + (status.at("ready").get<bool>() ? "yes" : "no") + "\n";
        for (const auto &generation : status.at("generations")) {
            text += "generation " + std::to_string(generation.at("number").get<int>()) + " " +
                    generation.at("state").get<std::string>() + "\n";
            for (const auto &worker : generation.at("workers"))
                text += "  worker pid " + std::to_string(worker.at("pid").get<long>()) + " " +
                        worker.at("state").get<std::string>() + " for " +
                        std::to_string(static_cast<long long>(worker.at("since").get<double>())) + " s\n";
        }
        for (const auto &listener : status.at("listeners")) {
            text += "listener " + listener.at("address").get<std::string>() + " plugin " +
                    listener.at("plugin").get<std::string>() + " mode " + listener.at("mode").get<std::string>() + "\n";
            text += "  requests:";
            for (const auto &[outcome, count] : listener.at("requests").items())
                text += " " + outcome + " " + std::to_string(count.get<std::uint64_t>());
            text += "\n  connections open " + std::to_string(listener.at("connections_open").get<std::int64_t>()) +
                    ", received " + std::to_string(listener.at("received_bytes").get<std::uint64_t>()) + " bytes, sent " +
                    std::to_string(listener.at("sent_bytes").get<std::uint64_t>()) + " bytes\n";
        }
        return text;
    } catch (const json::exception &error) {
        return fail(std::string("the supervisor's status answer is not what this sockhost reads: ") + error.what());
    }
}

}  // namespace sockhost
