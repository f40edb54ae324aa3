#pragma once

// `tandem loadtest --echo-server PORT`: the cheapest target the simulated clients can run
// against, to measure what one loadtest worker drives (docs/performance.md). It is tandem's own
// transport (core/net Server: the same framing, send queues and keep-alive as `tandem serve`)
// with a handler that does the least the clients need: JOIN → ROOM_STATE (first member is host),
// PING → PONG, HOST_HEARTBEAT / PLAY_PAUSE / SEEK (as SEEK_PAUSE) and other untargeted frames
// relayed to the room with a `seq` appended, frames with `to` forwarded with `from`, USER_JOINED
// and USER_LEFT, LEAVE → close 1000, `/status` → an empty room list. No validation, no state
// machine, no audit trail. Rate and per-address limits are off.
//
// Runs until SIGINT/SIGTERM. Returns the exit code.

#include <cstdint>
#include <string>

namespace tandem::loadtest {

int run_echo_server(const std::string& host, std::uint16_t port, int threads);

}  // namespace tandem::loadtest
