// An out-of-tree plugin: greets the peer by its address, with a word from its config
// (read with the SDK's sockhost/config.hpp).
#include <sockhost/config.hpp>
#include <sockhost/plugin.hpp>

#include <string>

class Greeting {
public:
    explicit Greeting(std::string_view config_json)
        : word_(sockhost::sdk::Config("greeting", config_json, {"word"}).string("word", "hello")) {}
    void handle(sockhost::sdk::Request &request) { request.write(word_ + ", " + std::string(request.peer()) + "\n"); }

private:
    std::string word_;
};

SOCKHOST_PLUGIN(Greeting, "greeting", "0.1.0", SOCKHOST_TRANSPORTS_ALL)
