#include <sockhost/host/shared/shared_table.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace sockhost::shared_memory {

namespace {

Result<void *> map(int fd, std::size_t size, const char *what) {
    void *address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (address == MAP_FAILED) return fail_errno(std::string("mapping the worker's ") + what);
    return address;
}

}  // namespace

Result<void *> create(std::size_t size, const char *what, UniqueFd &fd) {
    fd = UniqueFd(::memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) return fail_errno(std::string("memfd_create for a worker's ") + what);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return fail_errno(std::string("sizing a worker's ") + what);
    // A plugin could reopen the memfd and shrink it: the supervisor's next read would
    // then fault (SIGBUS). Sealed, its size is fixed for everyone.
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        return fail_errno(std::string("sealing a worker's ") + what);
    return map(fd.get(), size, what);
}

Result<void *> adopt(int fd, std::size_t size, const char *what) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) return fail_errno(std::string("the ") + what + "'s descriptor");
    if (static_cast<std::size_t>(info.st_size) < size)
        return fail(std::string("the ") + what + " is " + std::to_string(info.st_size) + " bytes, expected " +
                    std::to_string(size));
    return map(fd, size, what);
}

void unmap(void *address, std::size_t size) { ::munmap(address, size); }

}  // namespace sockhost::shared_memory
