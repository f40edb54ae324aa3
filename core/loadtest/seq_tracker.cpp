#include "core/loadtest/seq_tracker.hpp"

#include <algorithm>

namespace tandem::loadtest {

void SeqTracker::restart(std::int64_t seq) {
  active_ = true;
  next_ = seq + 1;
  missing_.clear();
}

void SeqTracker::observe(std::int64_t seq) {
  if (!active_) return;
  ++counts_.received;
  if (seq == next_) {
    ++next_;
  } else if (seq > next_) {
    counts_.lost += static_cast<std::uint64_t>(seq - next_);
    for (std::int64_t s = next_; s < seq && missing_.size() < kMaxMissing; ++s) missing_.push_back(s);
    next_ = seq + 1;
  } else {
    const auto it = std::lower_bound(missing_.begin(), missing_.end(), seq);
    if (it != missing_.end() && *it == seq) {
      missing_.erase(it);
      ++counts_.out_of_order;
      --counts_.lost;  // it was counted lost when the gap appeared
    } else {
      ++counts_.duplicated;
    }
  }
}

std::uint64_t SeqTracker::settle(std::int64_t room_last) {
  if (!active_ || room_last < next_) return 0;
  const auto tail = static_cast<std::uint64_t>(room_last - next_ + 1);
  counts_.lost += tail;
  next_ = room_last + 1;
  return tail;
}

}  // namespace tandem::loadtest
