// The worker's side of shared/worker_activity.hpp: the table the supervisor gave this
// worker, and the slot a request holds while its hooks run.
#pragma once

#include <sockhost/host/shared/worker_activity.hpp>

#include <string>

namespace sockhost {

class Request;

// Once, before the first request (none: nothing is recorded). A request child of the
// forking mode records under its own pid.
void install_activity_table(ActivityTable *table);

// Frees the slots a request child held when it died (it could not release them itself),
// and says where it was in plugin code then (" in handle for peer ..."), if it was.
std::string release_activity_of(pid_t child);

// A request's slot, from its first hook to its last (none when the table is full or not
// installed). Enter and leave mark the plugin's code taking and giving back control.
class RequestActivity {
public:
    RequestActivity(Request &request, int listener);
    ~RequestActivity();
    RequestActivity(const RequestActivity &) = delete;
    RequestActivity &operator=(const RequestActivity &) = delete;

    void enter(Hook hook);
    void leave();

private:
    Request &request_;
    ActivitySlot *slot_ = nullptr;
};

}  // namespace sockhost
