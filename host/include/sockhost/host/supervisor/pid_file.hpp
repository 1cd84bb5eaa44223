// The supervisor's `pid_file`: written at start, removed at exit (if it still holds this
// process's pid file, not one that replaced it).
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <sys/types.h>

#include <filesystem>

namespace sockhost {

class PidFile {
public:
    // Writes this process's pid, mode 0644. The last component is never followed if it
    // is a symbolic link (O_NOFOLLOW): root writes this file.
    static Result<PidFile> write(const std::filesystem::path &path);

    PidFile(PidFile &&other) noexcept;
    PidFile &operator=(PidFile &&other) noexcept;
    ~PidFile();

private:
    void remove() noexcept;
    PidFile(std::filesystem::path path, dev_t device, ino_t inode) : path_(std::move(path)), device_(device), inode_(inode) {}

    std::filesystem::path path_;  // empty once moved from
    dev_t device_ = 0;
    ino_t inode_ = 0;
};

}  // namespace sockhost
