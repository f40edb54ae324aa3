#pragma once

#include <string>
#include <string_view>

#include "core/util/random.hpp"

namespace tandem::engine::redis {

// Ids are opaque (docs/protocol.md §2: any allowed id, including ones with ':', '{', '*' or '/'), so
// every id that becomes part of a Redis key or channel name is hex-encoded (util::hex): the
// encoded part never contains ':' and one id can never produce another id's key.
using util::hex;

// The Redis names of one cluster, all under `prefix` (redis.key_prefix). Values that are not
// key names (room ids as hash fields or sorted-set members) are stored raw: they are data.
//
//   {p}room:{hex room}          hash  v = version, s = room state JSON (absent: no room; a
//                                     version-only hash is an archived room's tombstone, TTL),
//                                     q / a = seq and last activity of the relays committed
//                                     since s was written (advance_script; absent: none)
//   {p}deadlines                zset  room id -> next deadline (epoch ms)
//   {p}status                   hash  room id -> /status summary JSON
//   {p}audit                    stream of audit records, consumer group "tandem"
//   {p}node:{hex node}          string, TTL: the node is alive
//   {p}node:{hex node}:rooms    set   rooms where the node has members
//   {p}node:{hex node}:ch       channel: envelopes for the node's connections
//   {p}nodes                    zset  node -> expiry of its liveness key (epoch ms)
//   {p}lock:node:{hex node}     string, TTL: a node is cleaning up after this dead node
//   {p}epoch                    string: changes when Redis lost its data
//   {p}sid:{short id}           string, TTL: short id -> room id
//   {p}sidroom:{hex room}       string, TTL: room id -> short id
//   {p}pinfail:{hex group}      zset, TTL: PIN attempts of one client address group (IPv4
//                                     address, IPv6 /64) that were wrong or are being checked
class Keys {
 public:
  explicit Keys(std::string prefix) : prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }
  std::string room(std::string_view room_id) const { return prefix_ + "room:" + hex(room_id); }
  std::string deadlines() const { return prefix_ + "deadlines"; }
  std::string status() const { return prefix_ + "status"; }
  std::string audit() const { return prefix_ + "audit"; }
  std::string node(std::string_view node_id) const { return prefix_ + "node:" + hex(node_id); }
  std::string node_rooms(std::string_view node_id) const { return node(node_id) + ":rooms"; }
  std::string node_channel(std::string_view node_id) const { return node(node_id) + ":ch"; }
  std::string nodes() const { return prefix_ + "nodes"; }
  std::string node_lock(std::string_view node_id) const { return prefix_ + "lock:node:" + hex(node_id); }
  std::string epoch() const { return prefix_ + "epoch"; }
  std::string short_id_prefix() const { return prefix_ + "sid:"; }
  std::string short_id(std::string_view id) const { return short_id_prefix() + std::string(id); }
  std::string room_short_id(std::string_view room_id) const { return prefix_ + "sidroom:" + hex(room_id); }
  std::string pin_failures(std::string_view address) const { return prefix_ + "pinfail:" + hex(address); }

 private:
  std::string prefix_;
};

// The node of a connection id "<node>/<n>" (room::ConnId); empty when malformed.
std::string_view node_of(std::string_view conn_id);

}  // namespace tandem::engine::redis
