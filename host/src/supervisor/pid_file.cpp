#include <sockhost/host/supervisor/pid_file.hpp>

#include <sockhost/host/shared/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace sockhost {

Result<PidFile> PidFile::write(const std::filesystem::path &path) {
    const std::string where = "pid_file " + path.string();
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) return fail_errno(where + ": cannot write");
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return fail_errno(where + ": cannot write");
    struct stat status{};
    if (::fstat(fd.get(), &status) != 0) return fail_errno(where + ": fstat");
    return PidFile(path, status.st_dev, status.st_ino);
}

PidFile::PidFile(PidFile &&other) noexcept
    : path_(std::exchange(other.path_, {})), device_(other.device_), inode_(other.inode_) {}

PidFile &PidFile::operator=(PidFile &&other) noexcept {
    if (this != &other) {
        remove();
        path_ = std::exchange(other.path_, {});
        device_ = other.device_;
        inode_ = other.inode_;
    }
    return *this;
}

PidFile::~PidFile() { remove(); }

void PidFile::remove() noexcept {
    if (path_.empty()) return;
    struct stat status{};
    if (::lstat(path_.c_str(), &status) == 0 && status.st_dev == device_ && status.st_ino == inode_)
        ::unlink(path_.c_str());
    path_.clear();
}

}  // namespace sockhost
