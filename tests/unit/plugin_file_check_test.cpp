// StrictModes for plugin files: what is refused, what is accepted, and what the error says.
#include <sockhost/host/worker/plugin/plugin_file_check.hpp>

#include "temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

namespace sockhost::test {
namespace {

namespace fs = std::filesystem;

fs::path make_file(const fs::path &path, mode_t mode = 0644) {
    std::ofstream(path) << "not loaded, only checked\n";
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
}

fs::path make_dir(const fs::path &path, mode_t mode) {
    fs::create_directory(path);
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);  // chmod, not mkdir's mode: the umask does not apply
    return path;
}

std::string error_of(const fs::path &file, uid_t trusted_uid = ::geteuid()) {
    const auto checked = check_plugin_file_safety(file, trusted_uid);
    return checked ? std::string("(accepted)") : checked.error().message;
}

TEST(PluginFileCheck, FileInPrivateDirectoryUnderTmpIsAccepted) {
    // /tmp is world-writable but root-owned and sticky: accepted, and the entries below it
    // are checked in turn.
    struct stat tmp {};
    ASSERT_EQ(::stat("/tmp", &tmp), 0);
    ASSERT_EQ(tmp.st_uid, 0u);
    ASSERT_EQ(tmp.st_mode & 07777, 01777u);
    TempDir dir;
    const auto file = make_file(dir / "ok.so");
    EXPECT_EQ(error_of(file), "(accepted)");
}

TEST(PluginFileCheck, GroupOrWorldWritableFileIsRefused) {
    TempDir dir;
    const auto group = make_file(dir / "group.so", 0664);
    EXPECT_EQ(error_of(group), "plugin " + group.string() +
                                   ": refused: group-writable (mode 0664); fix the mode or set strict_modes: false");
    const auto world = make_file(dir / "world.so", 0646);
    EXPECT_EQ(error_of(world), "plugin " + world.string() +
                                   ": refused: world-writable (mode 0646); fix the mode or set strict_modes: false");
}

TEST(PluginFileCheck, WritableDirectoryOnThePathIsRefused) {
    TempDir dir;
    const auto open = make_dir(dir / "open", 0777);
    const auto inner = make_dir(open / "inner", 0755);
    const auto file = make_file(inner / "p.so");
    EXPECT_EQ(error_of(file), "plugin " + file.string() + ": refused: directory " + open.string() +
                                  " is world-writable (mode 0777); fix the mode or set strict_modes: false");
    ASSERT_EQ(::chmod(open.c_str(), 0775), 0);
    EXPECT_NE(error_of(file).find("directory " + open.string() + " is group-writable (mode 0775)"), std::string::npos);
}

TEST(PluginFileCheck, StickyDirectoryIsAcceptedOnlyWhenRootOwned) {
    TempDir dir;
    const auto sticky = make_dir(dir / "sticky", 01777);
    const auto file = make_file(sticky / "p.so");
    // Owned by the trusted user but not by root: others could still create and own
    // entries there, and the owner of the directory can rename anyone's.
    uid_t trusted = ::geteuid();
    if (::geteuid() == 0) {
        ASSERT_EQ(::chown(sticky.c_str(), 65534, 65534), 0);
        trusted = 65534;
    }
    EXPECT_NE(error_of(file, trusted).find("directory " + sticky.string() + " is world-writable (mode 1777)"),
              std::string::npos)
        << error_of(file, trusted);
}

TEST(PluginFileCheck, OwnerOtherThanRootOrTheUserIsRefused) {
    TempDir dir;
    const auto file = make_file(dir / "theirs.so");
    const std::string error_start = "plugin " + file.string() + ": refused: ";
    if (::geteuid() == 0) {
        ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
        EXPECT_EQ(error_of(file), error_start +
                                      "owned by nobody (uid 65534), not by root; fix the owner or set "
                                      "strict_modes: false");
    } else {
        // Trusting another user: our own directory is the first thing refused.
        const uid_t trusted = ::geteuid() == 1 ? 2 : 1;
        const std::string error = error_of(file, trusted);
        EXPECT_TRUE(error.starts_with(error_start + "directory " + dir.path().string() + " is owned by ")) << error;
        EXPECT_TRUE(error.ends_with("; fix the owner or set strict_modes: false")) << error;
    }
}

TEST(PluginFileCheck, SymlinkIsCheckedThroughToItsTarget) {
    TempDir safe;
    TempDir elsewhere;
    const auto open = make_dir(elsewhere / "open", 0777);
    const auto target = make_file(open / "p.so");
    const auto link = safe / "p.so";
    fs::create_symlink(target, link);
    EXPECT_NE(error_of(link).find("plugin " + link.string() + ": refused: directory " + open.string() +
                                  " is world-writable"),
              std::string::npos)
        << error_of(link);

    const auto writable_target = make_file(elsewhere / "group.so", 0664);
    const auto link_to_writable = safe / "group.so";
    fs::create_symlink(writable_target, link_to_writable);
    EXPECT_EQ(error_of(link_to_writable), "plugin " + link_to_writable.string() + ": refused: its target " +
                                              writable_target.string() +
                                              " is group-writable (mode 0664); fix the mode or set strict_modes: false");

    const auto good_target = make_file(elsewhere / "good.so");
    const auto good_link = safe / "good.so";
    fs::create_symlink(fs::relative(good_target, safe.path()), good_link);  // a relative link
    EXPECT_EQ(error_of(good_link), "(accepted)");
}

TEST(PluginFileCheck, LinkInAWritableDirectoryIsRefused) {
    // The link could be swapped by anyone who can write its directory, whatever it points at.
    TempDir dir;
    const auto target = make_file(dir / "p.so");
    const auto open = make_dir(dir / "open", 0777);
    fs::create_symlink(target, open / "p.so");
    EXPECT_NE(error_of(open / "p.so").find("directory " + open.string() + " is world-writable"), std::string::npos);
}

TEST(PluginFileCheck, SymlinkedDirectoryIsResolved) {
    TempDir dir;
    const auto open = make_dir(dir / "open", 0777);
    make_file(open / "p.so");
    fs::create_symlink(open, dir / "plugins");
    EXPECT_NE(error_of(dir / "plugins" / "p.so").find("directory " + open.string() + " is world-writable"),
              std::string::npos);
    // ".." after a link goes to the parent of the link's target, as the kernel does.
    const auto nested = make_dir(dir / "nested", 0755);
    make_dir(nested / "deeper", 0755);
    make_file(nested / "q.so");
    fs::create_symlink(nested / "deeper", dir / "shortcut");
    EXPECT_EQ(error_of(dir / "shortcut" / ".." / "q.so"), "(accepted)");
}

TEST(PluginFileCheck, MissingFileAndDirectoryAreNamed) {
    TempDir dir;
    EXPECT_EQ(error_of(dir / "absent.so"), "plugin " + (dir / "absent.so").string() + ": file not found");
    make_dir(dir / "dir.so", 0755);
    EXPECT_EQ(error_of(dir / "dir.so"), "plugin " + (dir / "dir.so").string() + ": not a regular file");
}

TEST(PluginFileCheck, LinkLoopIsAnError) {
    TempDir dir;
    fs::create_symlink(dir / "b.so", dir / "a.so");
    fs::create_symlink(dir / "a.so", dir / "b.so");
    EXPECT_EQ(error_of(dir / "a.so"), "plugin " + (dir / "a.so").string() + ": too many symbolic links");
}

}  // namespace
}  // namespace sockhost::test
