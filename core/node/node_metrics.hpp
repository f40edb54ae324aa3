#pragma once

#include <string_view>

#include "core/metrics/metrics.hpp"

namespace tandem::node {

// The protocol metrics of PROTOCOL.md §10, registered once for both engines. The engines add
// their own (rooms, audit backlog, backend state).
struct NodeMetrics {
  explicit NodeMetrics(metrics::Registry& registry);

  // Counts an ERROR frame about to be sent (text as serialized), by its code.
  void count_if_error(std::string_view text);

  metrics::Registry& registry;
  metrics::CounterFamily& messages_in;
  metrics::Counter& messages_out;
  metrics::CounterFamily& errors;
  metrics::Histogram& broadcast_latency;
  metrics::Counter& dropped_position_updates;
  metrics::Counter& pending_frame_drops;
};

}  // namespace tandem::node
