#pragma once

// Boost.Asio event loop adapter for hiredis' asynchronous API (hiredis 0.14 ships adapters for
// libevent, libev, libuv, ... but none for Asio). Written here on the context's
// ev.addRead/delRead/addWrite/delWrite/cleanup hooks.

struct redisAsyncContext;

namespace boost::asio {
class io_context;
}

namespace tandem::redis {

// Drives `context` from `io`: while hiredis wants to read (write), an async_wait for
// readability (writability) of the context's socket is kept armed, and each readiness calls
// redisAsyncHandleRead (redisAsyncHandleWrite) on the thread running `io`.
//
// Call once per context, right after redisAsyncConnect and before redisAsyncSetConnectCallback
// (which asks for the first write event) or any command.
//
// Ownership: hiredis keeps owning the socket. The adapter state lives until hiredis calls the
// cleanup hook (when the context is freed); the hook stops watching the socket without closing
// it. `io` must outlive the context.
//
// Thread-safety: none of its own. The context and everything attached to it must only be used
// from the one thread that runs `io`.
//
// Returns false (and changes nothing) when the context already has an event adapter or has no
// socket (a failed redisAsyncConnect).
bool attach(redisAsyncContext& context, boost::asio::io_context& io);

}  // namespace tandem::redis
