#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "core/metrics/metrics.hpp"

namespace tandem::node {

// The protocol metrics of docs/protocol.md §10, registered once for both engines. The engines add
// their own (rooms, audit backlog, backend state).
struct NodeMetrics {
  explicit NodeMetrics(metrics::Registry& registry);

  // Counts an ERROR frame about to be sent (text as serialized), by its code.
  void count_if_error(std::string_view text);
  // The messages_in counter of a frame type: the protocol's types are resolved once, others go
  // through the family (bounded label set).
  metrics::Counter& in(std::string_view type);

  metrics::Registry& registry;
  metrics::CounterFamily& messages_in;
  metrics::Counter& messages_out;
  metrics::CounterFamily& errors;
  metrics::Histogram& broadcast_latency;
  metrics::Counter& dropped_position_updates;
  metrics::Counter& pending_frame_drops;
  metrics::Counter& relay_limited_frames;
  metrics::Counter& pin_hash_refusals;
  metrics::Counter& closed_joins_dropped;

 private:
  std::vector<std::pair<std::string_view, metrics::Counter*>> known_in_;
};

}  // namespace tandem::node
