#include <sockhost/host/worker/draining_priority.hpp>

#include <sockhost/host/shared/log.hpp>

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace sockhost {

void lower_priority_for_drain() {
    // On Linux the nice value is each thread's own: setpriority(PRIO_PROCESS, tid) per task.
    const std::unique_ptr<DIR, int (*)(DIR *)> tasks(::opendir("/proc/self/task"), ::closedir);
    if (!tasks) {
        log_debug(std::string("draining: /proc/self/task: ") + std::strerror(errno) + "; priority left as it is");
        return;
    }
    while (const dirent *entry = ::readdir(tasks.get())) {
        char *end = nullptr;
        const long tid = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || tid <= 0) continue;  // "." and ".."
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), kDrainingNice);
    }
}

}  // namespace sockhost
