// A plugin for ABI 1.5's peer_identity, over real hosts and the harness alike. Its verify
// refuses a TLS peer without a verified certificate when the config says
// {"require_verified": true} (the plugin deciding, under client_auth "optional"), and a
// request answers one line that says who the peer is, then ends:
//   "tls=0|1 certificate=0|1 verified=0|1 resumed=0|1 subject=S alt=A,B verify_error=E
//    alpn=P sni=N version=V uid=U gid=G pid=P"
// (uid, gid and pid -1 unless the peer is a Unix stream peer).
#include <sockhost/plugin.hpp>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace {

class IdentityProbe {
public:
    explicit IdentityProbe(std::string_view config_json) {
        const auto config = nlohmann::json::parse(config_json);
        for (const auto &[key, value] : config.items()) {
            if (key == "require_verified") require_verified_ = value.get<bool>();
            else throw std::runtime_error("unknown config key '" + key + "'");
        }
    }

    bool verify(sockhost::sdk::Request &request) {
        if (!require_verified_) return true;
        const auto identity = request.peer_identity();
        return identity && identity->verified;
    }

    void handle(sockhost::sdk::Request &request) {
        const auto identity = request.peer_identity();
        if (!identity) throw std::runtime_error("the host is older than ABI 1.5");
        std::string alt;
        for (const auto name : identity->alt_names) alt += (alt.empty() ? "" : ",") + std::string(name);
        const auto credentials = identity->credentials.value_or(sockhost::sdk::PeerCredentials{});
        request.write("tls=" + flag(identity->tls) + " certificate=" + flag(identity->presented_certificate) +
                      " verified=" + flag(identity->verified) + " resumed=" + flag(identity->resumed) +
                      " subject=" + std::string(identity->subject) + " alt=" + alt +
                      " verify_error=" + std::string(identity->verify_error) + " alpn=" + std::string(identity->alpn) +
                      " sni=" + std::string(identity->server_name) + " version=" + std::string(identity->tls_version) +
                      " uid=" + std::to_string(credentials.uid) + " gid=" + std::to_string(credentials.gid) +
                      " pid=" + std::to_string(credentials.pid) + "\n");
    }

private:
    static std::string flag(bool value) { return value ? "1" : "0"; }
    bool require_verified_ = false;
};

}  // namespace

SOCKHOST_PLUGIN(IdentityProbe, "identity_probe", "1.0.0", SOCKHOST_TRANSPORTS_ALL)
