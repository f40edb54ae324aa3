#include "core/engine/redis/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/serialize.hpp>

#include "core/engine/redis/link.hpp"

namespace tandem::engine::redis {

EnvelopeRouter::EnvelopeRouter(Context& ctx, RedisLink& link) : ctx_(ctx), link_(link) {}

void EnvelopeRouter::on_message(const tandem::redis::Message& message) {
  Envelope env;
  try {
    env = decode_envelope(message.payload);
  } catch (const std::exception& e) {
    ctx_.metrics.backend_errors.with("envelope").inc();
    spdlog::error("cluster: dropped a malformed envelope: {}", e.what());
    return;
  }
  if (env.version == 0 || !on_committed_) {
    deliver(env);
    return;
  }
  on_committed_(env);
}

void EnvelopeRouter::deliver(const Envelope& env) {
  if (!ctx_.host) return;
  Delivery delivery{env.room_id, {}, {}, {}};
  bool sequenced = false;
  for (const auto& frame : env.frames) {
    OutFrame out{{}, frame.text, frame.sequenced};
    for (const auto& to : frame.to) {
      if (node_of(to) == ctx_.instance) out.to.push_back(to);
    }
    if (out.to.empty()) continue;
    sequenced = sequenced || frame.sequenced;
    delivery.frames.push_back(std::move(out));
  }
  for (const auto& close : env.closes) {
    if (node_of(close.conn) == ctx_.instance) delivery.closes.push_back(close);
  }
  if (delivery.frames.empty() && delivery.closes.empty()) return;
  if (sequenced && env.sent_at > 0) {
    ctx_.metrics.delivery_latency.observe(static_cast<double>(std::max<room::Millis>(0, epoch_ms() - env.sent_at)) /
                                          1000.0);
  }
  ctx_.host->deliver(delivery);
}

void EnvelopeRouter::relay(const std::string& room_id, room::Effects& fx) {
  Delivery local{room_id, {}, {}, {}};
  std::vector<room::OutFrame> remote;
  std::vector<std::string> nodes;
  for (auto& out : fx.frames) {
    std::shared_ptr<const std::string> text;
    OutFrame here;
    room::OutFrame far;
    for (const auto& to : out.recipients) {
      const auto node = node_of(to);
      if (node == ctx_.instance) {
        here.to.push_back(to);
      } else {
        far.recipients.push_back(to);
        nodes.emplace_back(node);
      }
    }
    if (!here.to.empty()) {
      here.text = std::make_shared<const std::string>(boost::json::serialize(out.frame));
      here.sequenced = out.sequenced;
      local.frames.push_back(std::move(here));
    }
    if (!far.recipients.empty()) {
      far.frame = std::move(out.frame);
      remote.push_back(std::move(far));
    }
  }
  for (const auto& close : fx.closes) {
    if (node_of(close.conn) == ctx_.instance) local.closes.push_back(close);
  }
  if (ctx_.host && (!local.frames.empty() || !local.closes.empty())) ctx_.host->deliver(local);
  if (remote.empty()) return;
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  const std::string payload = encode_envelope(room_id, 0, epoch_ms(), remote, {}, {});
  for (const auto& node : nodes) link_.fire({"PUBLISH", ctx_.keys.node_channel(node), payload});
}

}  // namespace tandem::engine::redis
