#pragma once

// Everything one worker measures, and the merge of several workers' results.
// Not thread-safe: a worker owns its Stats; the parent merges copies received over the pipe.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>

#include "core/loadtest/histogram.hpp"

namespace tandem::loadtest {

struct Stats {
  // Clients
  std::uint64_t clients = 0;          // simulated clients in this worker
  std::uint64_t joined = 0;           // clients that received a ROOM_STATE at least once
  std::uint64_t connected_end = 0;    // WebSockets open when the run ended
  std::uint64_t gave_up = 0;          // clients that stopped after 10 failed reconnects
  std::uint64_t connect_attempts = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t reconnects = 0;       // connects after an unintended close (extension backoff)
  std::uint64_t unintended_closes = 0;
  std::uint64_t pong_timeouts = 0;    // PINGs without a PONG within the watchdog time
  std::uint64_t watchdog_reconnects = 0;
  std::uint64_t leaves = 0;           // LEAVEs sent (churn, end of run)
  std::uint64_t rejoins = 0;          // churn re-joins
  // Frames
  std::uint64_t frames_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t positions_sent = 0;
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t play_pauses_sent = 0;
  std::uint64_t seeks_sent = 0;
  std::uint64_t readies_sent = 0;
  std::uint64_t pings_sent = 0;
  std::uint64_t offers_sent = 0;
  std::uint64_t answers_sent = 0;
  std::uint64_t gates_released = 0;   // PLAY_PAUSE from "server" seen by the seeker
  std::uint64_t sends_skipped = 0;    // scheduled sends dropped, all causes (the three below)
  std::uint64_t sends_skipped_late = 0;  // the generator was more than kMaxCatchUp periods behind
  std::uint64_t sends_refused = 0;       // the socket's send queue was full: the target did not read
  std::uint64_t status_skipped = 0;      // a /status poll due while two were still unanswered
  // Delivery (docs/protocol.md §3 seq)
  std::uint64_t broadcasts_received = 0;  // frames with a seq, while checking
  std::uint64_t lost = 0;                 // gaps + tail (see SeqTracker)
  std::uint64_t tail_lost = 0;            // part of lost: missing at the end of the run
  std::uint64_t duplicated = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t error_frames = 0;         // ERROR frames received (see errors_by_code)
  // /status
  std::uint64_t status_requests = 0;
  std::uint64_t status_ok = 0;
  std::uint64_t status_failed = 0;        // transport failure or non-200
  std::uint64_t status_without_room = 0;  // 200 without the client's room, ≥ 2 s after its JOIN
  // The generator itself
  std::uint64_t cpu_us = 0;               // CPU time (user + system) of the worker's thread

  std::map<std::string, std::uint64_t, std::less<>> errors_by_code;
  std::map<std::string, std::uint64_t, std::less<>> close_codes;       // unintended closes, by code
  std::map<std::string, std::uint64_t, std::less<>> connect_failure_reasons;

  Histogram connect;    // scheduled connect time → WebSocket open
  Histogram join;       // JOIN sent → ROOM_STATE received
  Histogram broadcast;  // eventTimestamp (scheduled send, wall clock) → receipt, every receiver
  Histogram relay;      // OFFER/ANSWER sent → receipt by the target
  Histogram status;     // scheduled poll time → /status response
  Histogram pong;       // PING sent → PONG
  Histogram send_lag;   // scheduled send time → handed to the socket (the loadtest's own lateness)
  Histogram write_wait; // handed to the socket → write completed (grows when the target does not read)
  Histogram loop_lag;   // how late the worker's event loop serves a wake-up (a probe every 100 ms)

  // Failures the `errors` threshold counts: ERROR frames, failed connects, unintended closes,
  // failed /status requests, PONG timeouts and sends the client had to drop.
  // (Skipped sends also decide whether the run is valid: see health.hpp.)
  std::uint64_t errors() const;
  // Operations `errors` is a share of: frames sent + /status requests + connect attempts.
  std::uint64_t operations() const;

  void merge(const Stats& other);
  boost::json::value to_json() const;
  static Stats from_json(const boost::json::value& v);  // throws std::invalid_argument

  struct Field {
    std::string_view name;
    std::uint64_t Stats::*member;
  };
  static const std::array<Field, 40>& fields();
  struct HistogramField {
    std::string_view name;
    Histogram Stats::*member;
  };
  static const std::array<HistogramField, 9>& histograms();
  // The counter or histogram called `name`, for thresholds; nullptr when unknown.
  const std::uint64_t* counter(std::string_view name) const;
  const Histogram* histogram(std::string_view name) const;
};

}  // namespace tandem::loadtest
