// Switching user: what drop_privileges does as root (in a child, so the test process keeps
// its user) and what it refuses otherwise.
#include <sockhost/host/shared/privileges.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace sockhost {
namespace {

TEST(Privileges, SameUserWithoutRootIsLeftAsItIs) {
    if (::geteuid() == 0) GTEST_SKIP() << "needs a user other than root";
    const RunAs self{::getuid(), ::getgid(), {::getgid()}, ""};
    EXPECT_TRUE(drop_privileges(self));
    EXPECT_EQ(::getuid(), self.uid);
}

TEST(Privileges, OtherUserWithoutRootIsAnError) {
    if (::geteuid() == 0) GTEST_SKIP() << "needs a user other than root";
    const std::string other = ::geteuid() == 1 ? "nobody" : "daemon";
    auto run_as = resolve_run_as(other, std::nullopt);
    ASSERT_TRUE(run_as) << run_as.error().message;
    const auto dropped = drop_privileges(*run_as);
    ASSERT_FALSE(dropped);
    EXPECT_TRUE(dropped.error().message.starts_with("user " + describe_run_as(*run_as) + ": cannot switch to it: "))
        << dropped.error().message;
    EXPECT_TRUE(dropped.error().message.ends_with(", and only root can change user")) << dropped.error().message;
}

TEST(Privileges, RootDropsToUserAndCannotRegainRoot) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto nobody = resolve_run_as("nobody", std::nullopt);
    ASSERT_TRUE(nobody) << nobody.error().message;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Exit codes say which check failed; 0 is success.
        if (!drop_privileges(*nobody)) ::_exit(1);
        uid_t real = 0, effective = 0, saved = 0;
        ::getresuid(&real, &effective, &saved);
        if (real != 65534 || effective != 65534 || saved != 65534) ::_exit(2);
        gid_t greal = 0, geffective = 0, gsaved = 0;
        ::getresgid(&greal, &geffective, &gsaved);
        if (greal != 65534 || geffective != 65534 || gsaved != 65534) ::_exit(3);
        gid_t groups[8];
        if (::getgroups(8, groups) != 1 || groups[0] != 65534) ::_exit(4);
        if (::setuid(0) == 0 || ::seteuid(0) == 0 || ::setgid(0) == 0) ::_exit(5);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "exit code names the failed check";
}

TEST(Privileges, DescribesUsers) {
    EXPECT_EQ(describe_user(0), "root (uid 0)");
    EXPECT_EQ(describe_user(4242), "uid 4242");
    auto nobody = resolve_run_as("65534", std::nullopt);
    ASSERT_TRUE(nobody) << nobody.error().message;
    EXPECT_EQ(describe_run_as(*nobody), "nobody (uid 65534, gid 65534)") << "a numeric uid finds its name";
}

}  // namespace
}  // namespace sockhost
