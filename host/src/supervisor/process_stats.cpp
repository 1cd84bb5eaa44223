// Process metrics from /proc, as Prometheus's client libraries report them
// (process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds).
#include <sockhost/host/supervisor/metrics_exposition.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace sockhost {

ProcessStats read_process_stats(pid_t pid) {
    const std::string dir = pid == 0 ? "/proc/self" : "/proc/" + std::to_string(pid);
    ProcessStats stats;
    std::ifstream stat_file(dir + "/stat");
    const std::string text((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // After the command (which may hold spaces and parentheses): fields 3.. ; utime and stime are 14 and 15.
    if (const auto end = text.rfind(')'); end != std::string::npos) {
        unsigned long long user = 0, system = 0;
        if (std::sscanf(text.c_str() + end + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &user,
                        &system) == 2)
            stats.cpu_seconds = static_cast<double>(user + system) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
    std::ifstream statm(dir + "/statm");
    std::uint64_t size = 0, resident = 0;
    if (statm >> size >> resident) stats.resident_bytes = resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    std::error_code error;
    for (std::filesystem::directory_iterator entry(dir + "/fd", error), end; !error && entry != end; entry.increment(error))
        ++stats.open_fds;
    return stats;
}

}  // namespace sockhost
