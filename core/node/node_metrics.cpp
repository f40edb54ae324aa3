#include "core/node/node_metrics.hpp"

#include "core/proto/frame.hpp"

namespace tandem::node {

NodeMetrics::NodeMetrics(metrics::Registry& r)
    : registry(r),
      messages_in(r.counter_family("tandem_messages_in_total", "Client frames received, by type", {"type"})),
      messages_out(r.counter("tandem_messages_out_total", "Frames queued to clients")),
      errors(r.counter_family("tandem_errors_total", "ERROR frames sent, by code", {"code"})),
      broadcast_latency(r.histogram("tandem_broadcast_latency_seconds",
                                    "Time from receiving a frame to queuing its room broadcast to this node's members",
                                    metrics::latency_bounds())),
      dropped_position_updates(r.counter("tandem_dropped_position_updates_total",
                                         "POSITION_UPDATE frames dropped silently for bad fields")),
      pending_frame_drops(r.counter("tandem_pending_frame_drops_total",
                                    "Frames refused because the connection had too many frames waiting")),
      relay_limited_frames(r.counter("tandem_relay_limited_frames_total",
                                     "Relayed frames dropped because their sender was over limits.relay_bytes_per_sec")),
      pin_hash_refusals(r.counter("tandem_pin_hash_refusals_total",
                                  "JOINs with a PIN answered server_busy because the PIN worker's queue was full")),
      closed_joins_dropped(r.counter("tandem_closed_joins_dropped_total",
                                     "JOINs dropped unprocessed because their connection closed while they waited")) {
  for (const auto type : proto::client_types()) known_in_.emplace_back(type, &messages_in.with(type));
  for (const std::string_view type : {"invalid", "other"}) known_in_.emplace_back(type, &messages_in.with(type));
}

metrics::Counter& NodeMetrics::in(std::string_view type) {
  for (const auto& [known, counter] : known_in_) {
    if (known == type) return *counter;
  }
  // Any other type is the client's own text (relayed frames may have any type): one label value,
  // so that clients decide nothing about the metric's series.
  return *known_in_.back().second;
}

void NodeMetrics::count_if_error(std::string_view text) {
  // Every ERROR frame is serialized as {"type":"ERROR",…,"code":"…"} (proto::error_frame and the
  // room's frames alike).
  if (!text.starts_with("{\"type\":\"ERROR\"")) return;
  const auto at = text.find("\"code\":\"");
  if (at == std::string_view::npos) return;
  const auto start = at + 8;
  const auto end = text.find('"', start);
  if (end != std::string_view::npos) errors.with(text.substr(start, end - start)).inc();
}

}  // namespace tandem::node
