// A log-linear latency histogram (32 steps per power of two: about 3 % resolution), cheap
// enough to record every request of a closed-loop run.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace bench {

class LatencyHistogram {
public:
    void record(std::uint64_t nanoseconds) {
        ++counts_[index_of(nanoseconds)];
        ++count_;
        if (nanoseconds > max_) max_ = nanoseconds;
    }

    void merge(const LatencyHistogram &other) {
        for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
        count_ += other.count_;
        if (other.max_ > max_) max_ = other.max_;
    }

    std::uint64_t count() const { return count_; }
    std::uint64_t max() const { return max_; }

    // The value below which `fraction` of the recorded values lie (the bucket's midpoint).
    std::uint64_t percentile(double fraction) const {
        if (count_ == 0) return 0;
        auto rank = static_cast<std::uint64_t>(fraction * static_cast<double>(count_));
        if (rank >= count_) rank = count_ - 1;
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen > rank) return midpoint_of(i);
        }
        return max_;
    }

private:
    static constexpr unsigned kSubBits = 5;  // 32 buckets per power of two
    static constexpr std::uint64_t kSub = 1ULL << kSubBits;

    static std::size_t index_of(std::uint64_t value) {
        if (value < kSub) return static_cast<std::size_t>(value);
        const unsigned top = 63U - static_cast<unsigned>(std::countl_zero(value));
        const unsigned shift = top - kSubBits;
        return static_cast<std::size_t>((shift + 1) * kSub + ((value >> shift) - kSub));
    }

    static std::uint64_t midpoint_of(std::size_t index) {
        if (index < kSub) return index;
        const std::uint64_t shift = index / kSub - 1;
        const std::uint64_t mantissa = index % kSub + kSub;
        const std::uint64_t low = mantissa << shift;
        return low + ((1ULL << shift) >> 1);
    }

    std::array<std::uint64_t, (64 - kSubBits + 1) * kSub> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace bench
