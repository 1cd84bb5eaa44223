// socketserver's synchronous server: one request at a time, on the accepting thread.
#include <sockhost/host/worker/modes/concurrency_mode.hpp>
#include <sockhost/host/worker/request_lifecycle.hpp>

namespace sockhost {

namespace {

class SyncMode final : public BlockingMode {
public:
    explicit SyncMode(Handler &handler) : handler_(handler) {}

    void dispatch(std::unique_ptr<Request> request) override { run_request(handler_, *request); }

private:
    Handler &handler_;
};

}  // namespace

Result<std::unique_ptr<ConcurrencyMode>> make_sync_mode(Handler &handler) {
    return std::make_unique<SyncMode>(handler);
}

}  // namespace sockhost
