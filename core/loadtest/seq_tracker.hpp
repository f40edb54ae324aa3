#pragma once

// The delivery check of one receiver (docs/protocol.md §3, DESIGN.md invariant 1): after a ROOM_STATE
// with seq s, a connected member must receive every room broadcast s+1, s+2, … exactly once and
// in order. Expectations restart at every ROOM_STATE (a reconnect is a new window: what the room
// broadcast while this member was away is not lost).
//
// A gap counts its missing numbers as lost; if one of them arrives later it is moved from lost to
// out_of_order. A number at or below the last one that was not missing is a duplicate. The list
// of missing numbers is bounded (kMaxMissing); beyond it a late arrival counts as a duplicate.

#include <cstdint>
#include <vector>

namespace tandem::loadtest {

struct SeqCounts {
  std::uint64_t received = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t out_of_order = 0;
};

class SeqTracker {
 public:
  static constexpr std::size_t kMaxMissing = 4096;

  // A ROOM_STATE carrying `seq` was received: the next broadcast must be seq + 1.
  void restart(std::int64_t seq);
  // Stops checking (the connection closed); counts are kept.
  void stop() { active_ = false; }
  bool active() const { return active_; }

  // A broadcast with `seq` arrived (ignored while not active).
  void observe(std::int64_t seq);

  // The highest seq received (or the ROOM_STATE's) in the current window.
  std::int64_t last() const { return next_ - 1; }
  // Broadcasts up to `room_last` that never arrived in this window are lost: call once at the
  // end with the highest seq any member of the room saw. Returns how many were added.
  std::uint64_t settle(std::int64_t room_last);

  const SeqCounts& counts() const { return counts_; }

 private:
  bool active_ = false;
  std::int64_t next_ = 0;
  std::vector<std::int64_t> missing_;  // sorted
  SeqCounts counts_;
};

}  // namespace tandem::loadtest
