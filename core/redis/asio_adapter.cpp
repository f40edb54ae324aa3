#include "core/redis/asio_adapter.hpp"

#include <hiredis/async.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <memory>
#include <utility>

namespace tandem::redis {

namespace {

using boost::asio::posix::stream_descriptor;

// The state behind one attached context. hiredis holds a strong reference (`self_`) from attach
// until its cleanup hook; every armed wait holds another, so a cleanup that runs inside one of
// our own handlers (redisAsyncHandleRead -> disconnect -> free -> cleanup) does not pull the
// object out from under that handler.
class Watcher : public std::enable_shared_from_this<Watcher> {
 public:
  Watcher(redisAsyncContext& context, boost::asio::io_context& io) : context_(&context), socket_(io) {}

  bool start() {
    boost::system::error_code ec;
    socket_.assign(context_->c.fd, ec);
    if (ec) return false;
    self_ = shared_from_this();
    context_->ev.data = this;
    context_->ev.addRead = [](void* p) { static_cast<Watcher*>(p)->want(Direction::read, true); };
    context_->ev.delRead = [](void* p) { static_cast<Watcher*>(p)->want(Direction::read, false); };
    context_->ev.addWrite = [](void* p) { static_cast<Watcher*>(p)->want(Direction::write, true); };
    context_->ev.delWrite = [](void* p) { static_cast<Watcher*>(p)->want(Direction::write, false); };
    context_->ev.cleanup = [](void* p) { static_cast<Watcher*>(p)->cleanup(); };
    return true;
  }

 private:
  enum class Direction { read, write };
  struct Interest {
    bool wanted = false;   // hiredis asked for this direction and has not withdrawn it
    bool waiting = false;  // an async_wait for it is outstanding
  };

  Interest& interest(Direction direction) { return direction == Direction::read ? read_ : write_; }

  void want(Direction direction, bool wanted) {
    interest(direction).wanted = wanted;
    if (!wanted) return;
    if (direction == Direction::write && (context_->c.flags & REDIS_CONNECTED) != 0) {
      flush_soon();
    } else {
      arm(direction);
    }
  }

  // Commands are queued: write them once the handlers already queued on the loop have run (so
  // that their commands go out in the same write), without asking the reactor first. A socket
  // is almost always writable; waiting for EPOLLOUT would cost an epoll_ctl per write and leave
  // EPOLLOUT registered, waking the loop each time Redis acknowledges data. Only a write that
  // blocks (the socket's buffer full) waits for writability.
  void flush_soon() {
    if (write_.waiting || flush_posted_) return;
    flush_posted_ = true;
    boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->flush_posted_ = false;
      if (self->context_ == nullptr || !self->write_.wanted || self->write_.waiting) return;
      redisAsyncHandleWrite(self->context_);
      // Still wanted: not everything went out. The context may be gone (a write error freed it).
      if (self->context_ != nullptr && self->write_.wanted) self->arm(Direction::write);
    });
  }

  void arm(Direction direction) {
    Interest& i = interest(direction);
    if (i.waiting || context_ == nullptr) return;
    i.waiting = true;
    socket_.async_wait(direction == Direction::read ? stream_descriptor::wait_read : stream_descriptor::wait_write,
                       [self = shared_from_this(), direction](const boost::system::error_code& ec) {
                         self->on_ready(direction, ec);
                       });
  }

  void on_ready(Direction direction, const boost::system::error_code& ec) {
    Interest& i = interest(direction);
    i.waiting = false;
    // operation_aborted: cleanup released the socket. Other errors: let hiredis find the socket
    // error itself through its read/write.
    if (ec == boost::asio::error::operation_aborted || context_ == nullptr || !i.wanted) return;
    if (direction == Direction::read) {
      redisAsyncHandleRead(context_);
    } else {
      redisAsyncHandleWrite(context_);
    }
    // hiredis may have freed the context (cleanup ran) or re-armed through add*. While still
    // connecting it returns without re-arming: keep waiting as long as the interest stands.
    if (i.wanted) arm(direction);
  }

  void cleanup() {
    if (context_ == nullptr) return;
    // hiredis 0.14 calls cleanup up to twice per context; unhook so a second call, or any
    // add*/del* after this point, no longer reaches us.
    context_->ev = {};
    context_ = nullptr;
    read_ = {};
    write_ = {};
    // The descriptor belongs to hiredis, which closes it right after; release() cancels our
    // waits without closing it.
    if (socket_.is_open()) socket_.release();
    auto last_reference_held_by_hiredis = std::move(self_);
  }

  redisAsyncContext* context_;  // null after cleanup
  stream_descriptor socket_;
  Interest read_;
  Interest write_;
  bool flush_posted_ = false;  // a flush_soon() is queued on the loop
  std::shared_ptr<Watcher> self_;
};

}  // namespace

bool attach(redisAsyncContext& context, boost::asio::io_context& io) {
  if (context.ev.data != nullptr || context.c.fd < 0) return false;
  return std::make_shared<Watcher>(context, io)->start();
}

}  // namespace tandem::redis
