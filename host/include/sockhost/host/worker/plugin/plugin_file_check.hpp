// sshd's StrictModes for the files the host loads: a plugin file runs with the host's
// privileges, so nobody but root and the host's own user may be able to change it, or
// swap it for another by renaming entries in any directory on the way to it.
#pragma once

#include <sockhost/host/shared/error.hpp>

#include <sys/types.h>
#include <unistd.h>

#include <filesystem>

namespace sockhost {

// Checks `file` and every directory its path goes through, following symbolic links the
// way the kernel would (each link's target is checked in turn, and so is each directory
// holding a link):
//   - the file is a regular file; every directory is a directory;
//   - each is owned by root or `trusted_uid`;
//   - none is writable by group or others, except a root-owned directory with the sticky
//     bit (/tmp): there only an entry's owner or root can rename or remove it, and the
//     entry itself is checked in turn.
// Errors: "plugin FILE: refused: REASON; fix the mode or set strict_modes: false" (or
// "fix the owner"); a missing file is "plugin FILE: file not found".
Result<void> check_plugin_file_safety(const std::filesystem::path &file, uid_t trusted_uid = ::geteuid());

}  // namespace sockhost
