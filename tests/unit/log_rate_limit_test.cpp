#include <sockhost/host/shared/log_rate_limit.hpp>

#include <gtest/gtest.h>

namespace {

using sockhost::Clock;
using sockhost::LogRateLimit;

TEST(LogRateLimit, TenASecondThenOneLineSaysHowManyWereLeftOut) {
    LogRateLimit limit;
    const auto start = Clock::now();
    std::string note;
    int admitted = 0;
    for (int line = 0; line < 1000; ++line) admitted += limit.admit(note, start + std::chrono::microseconds(line)) ? 1 : 0;
    EXPECT_EQ(admitted, 10);
    ASSERT_TRUE(limit.admit(note, start + std::chrono::milliseconds(1001)));
    EXPECT_EQ(note, "; 990 more like it since the last one logged were not logged");
    ASSERT_TRUE(limit.admit(note, start + std::chrono::milliseconds(1002)));
    EXPECT_EQ(note, "") << "nothing was left out since";
}

}  // namespace
