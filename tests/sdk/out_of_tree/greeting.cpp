// An out-of-tree plugin: greets the peer by its address.
#include <sockhost/plugin.hpp>

#include <string>

class Greeting {
public:
    explicit Greeting(std::string_view) {}
    void handle(sockhost::sdk::Request &request) {
        request.write("hello, " + std::string(request.peer()) + "\n");
    }
};

SOCKHOST_PLUGIN(Greeting, "greeting", "0.1.0", SOCKHOST_TRANSPORTS_ALL)
