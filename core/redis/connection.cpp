#include "core/redis/connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/redis/asio_adapter.hpp"

namespace tandem::redis {

namespace {

Reply convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_NIL: out.type = Reply::Type::nil; break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    default: out = make_failure("unsupported reply type " + std::to_string(r.type)); break;
  }
  return out;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// Commands that put the connection in a mode hiredis tracks by itself, or that only make sense
// through subscribe()/unsubscribe(): hiredis would call a one-shot callback more than once.
bool is_mode_command(std::string_view name) {
  constexpr std::array<std::string_view, 7> names = {"subscribe",  "psubscribe",   "ssubscribe", "unsubscribe",
                                                     "punsubscribe", "sunsubscribe", "monitor"};
  return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return equals_ignoring_case(name, n); });
}

std::string context_error(const redisAsyncContext& context) {
  return context.c.err != 0 ? std::string(context.c.errstr) : std::string("connection closed");
}

std::string element_text(const redisReply& array, std::size_t i) {
  const redisReply* e = array.element[i];
  return e->type == REDIS_REPLY_STRING ? std::string(e->str, e->len) : std::string();
}

}  // namespace

class Connection::Impl : public std::enable_shared_from_this<Impl> {
 public:
  explicit Impl(boost::asio::io_context& io) : io_(io), timer_(io) {}

  void connect(ConnectOptions options, ConnectCallback on_done) {
    if (context_ != nullptr) drop_context("connection replaced by a new connect()");
    const std::uint64_t attempt = ++attempt_;
    endpoint_ = "redis " + options.host + ":" + std::to_string(options.port);
    on_connected_ = std::move(on_done);
    state_ = State::connecting;

    redisAsyncContext* context = redisAsyncConnect(options.host.c_str(), options.port);
    if (context == nullptr || context->err != 0 || !attach(*context, io_)) {
      const std::string reason = context == nullptr ? "cannot allocate a hiredis context"
                                 : context->err != 0 ? context_error(*context)
                                                     : "cannot watch the socket";
      if (context != nullptr) redisAsyncFree(context);
      forget(std::exchange(state_, State::idle), endpoint_ + ": " + reason, false);
      return;
    }
    context->data = this;
    context_ = context;
    redisAsyncSetConnectCallback(context, &Impl::handle_connect);
    redisAsyncSetDisconnectCallback(context, &Impl::handle_disconnect);

    std::vector<std::vector<std::string>> handshake;
    if (!options.password.empty()) handshake.push_back({"AUTH", std::move(options.password)});
    if (options.db != 0) handshake.push_back({"SELECT", std::to_string(options.db)});
    if (!options.client_name.empty()) handshake.push_back({"CLIENT", "SETNAME", options.client_name});
    if (handshake.empty()) handshake.push_back({"PING"});
    for (std::size_t i = 0; i < handshake.size(); ++i) {
      const bool last = i + 1 == handshake.size();
      std::string step = handshake[i].front();
      send_command(handshake[i], [weak = weak_from_this(), attempt, last, step](Reply reply) {
        if (auto self = weak.lock()) self->handshake_reply(attempt, last, step, std::move(reply));
      });
    }

    timer_.expires_after(options.timeout);
    timer_.async_wait([weak = weak_from_this(), attempt, timeout = options.timeout](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->attempt_ != attempt || self->state_ != State::connecting) return;
      self->drop_context("timed out after " + std::to_string(timeout.count()) + " ms");
    });
  }

  void set_disconnect_callback(DisconnectCallback callback) { on_disconnect_ = std::move(callback); }

  void command(std::vector<std::string> args, ReplyCallback on_reply) {
    if (args.empty() || is_mode_command(args.front())) {
      post_reply(std::move(on_reply), "command refused: empty, or a pub/sub or MONITOR command");
    } else if (!channels_.empty() || !patterns_.empty()) {
      post_reply(std::move(on_reply), "command refused: the connection is in subscriber mode");
    } else {
      send_command(args, std::move(on_reply));
    }
  }

  void subscribe(bool pattern, std::vector<std::string> names, MessageCallback on_message, ReplyCallback on_subscribed) {
    if (names.empty()) return;
    std::vector<std::string> args{pattern ? "PSUBSCRIBE" : "SUBSCRIBE"};
    args.insert(args.end(), names.begin(), names.end());
    if (!send(args, &Impl::handle_push, nullptr)) {
      if (on_subscribed) {
        for (std::size_t i = 0; i < names.size(); ++i) post_reply(on_subscribed, not_connected());
      }
      return;
    }
    auto& subscriptions = pattern ? patterns_ : channels_;
    for (auto& name : names) subscriptions[std::move(name)] = Subscription{on_message, on_subscribed, false};
  }

  void unsubscribe(bool pattern, std::vector<std::string> names) {
    if (names.empty()) return;
    std::vector<std::string> args{pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE"};
    args.insert(args.end(), std::make_move_iterator(names.begin()), std::make_move_iterator(names.end()));
    send(args, nullptr, nullptr);  // hiredis routes the confirmations to the subscription's callback
  }

  void close() {
    if (context_ != nullptr) drop_context("connection closed by the client");
  }

  void destroy() {
    destroyed_ = true;
    on_connected_ = nullptr;
    on_disconnect_ = nullptr;
    channels_.clear();
    patterns_.clear();
    close();
  }

  bool connected() const { return state_ == State::connected; }

 private:
  enum class State { idle, connecting, connected };

  struct Subscription {
    MessageCallback on_message;
    ReplyCallback on_subscribed;
    bool confirmed = false;
  };

  // privdata of one command: hiredis calls its callback exactly once, with the reply or (when
  // the context is being freed) with null.
  struct Pending {
    std::weak_ptr<Impl> owner;
    ReplyCallback callback;
  };

  static void handle_reply(redisAsyncContext* context, void* reply, void* privdata) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
    const std::shared_ptr<Impl> owner = pending->owner.lock();
    if (!owner || owner->destroyed_ || !pending->callback) return;
    if (reply == nullptr) {
      // Inside hiredis' teardown of the context: defer, so that user code never runs there.
      owner->post_reply(std::move(pending->callback), context_error(*context));
      return;
    }
    pending->callback(convert(*static_cast<const redisReply*>(reply)));
  }

  static void handle_push(redisAsyncContext* context, void* reply, void*) {
    if (reply == nullptr || context->data == nullptr) return;  // teardown: subscriptions fail in forget()
    const std::shared_ptr<Impl> self = static_cast<Impl*>(context->data)->shared_from_this();
    self->dispatch_push(*static_cast<const redisReply*>(reply));
  }

  static void handle_connect(const redisAsyncContext* context, int status) {
    if (status == REDIS_OK || context->data == nullptr) return;
    static_cast<Impl*>(context->data)->context_lost(context, context_error(*context));
  }

  static void handle_disconnect(const redisAsyncContext* context, int) {
    if (context->data == nullptr) return;
    static_cast<Impl*>(context->data)->context_lost(context, context_error(*context));
  }

  bool send(const std::vector<std::string>& args, redisCallbackFn* fn, void* privdata) {
    if (context_ == nullptr) return false;
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    return redisAsyncCommandArgv(context_, fn, privdata, static_cast<int>(args.size()), argv.data(), lengths.data()) ==
           REDIS_OK;
  }

  void send_command(const std::vector<std::string>& args, ReplyCallback on_reply) {
    auto pending = std::make_unique<Pending>(Pending{weak_from_this(), std::move(on_reply)});
    if (send(args, &Impl::handle_reply, pending.get())) {
      pending.release();  // hiredis hands it back to handle_reply
    } else {
      post_reply(std::move(pending->callback), not_connected());
    }
  }

  void handshake_reply(std::uint64_t attempt, bool last, const std::string& step, Reply reply) {
    if (attempt != attempt_ || state_ != State::connecting) return;
    if (reply.is_error()) {
      drop_context(step + " failed: " + reply.text);
    } else if (last) {
      timer_.cancel();
      state_ = State::connected;
      if (auto callback = std::exchange(on_connected_, nullptr)) callback(std::nullopt);
    }
  }

  void dispatch_push(const redisReply& reply) {
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 3) return;
    const std::string kind = element_text(reply, 0);
    if (kind.empty()) return;
    const bool pattern = kind.front() == 'p' || kind.front() == 'P';
    auto& subscriptions = pattern ? patterns_ : channels_;
    const auto found = subscriptions.find(element_text(reply, 1));
    if (found == subscriptions.end()) return;
    Subscription& subscription = found->second;

    if (equals_ignoring_case(kind, "message") || (equals_ignoring_case(kind, "pmessage") && reply.elements >= 4)) {
      Message message;
      if (pattern) message.pattern = found->first;
      message.channel = element_text(reply, pattern ? 2 : 1);
      message.payload = element_text(reply, pattern ? 3 : 2);
      auto callback = subscription.on_message;  // the callback may unsubscribe or destroy us
      if (callback) callback(message);
    } else if (equals_ignoring_case(kind, "subscribe") || equals_ignoring_case(kind, "psubscribe")) {
      if (subscription.confirmed) return;
      subscription.confirmed = true;
      auto callback = subscription.on_subscribed;
      if (callback) callback(convert(reply));
    } else if (equals_ignoring_case(kind, "unsubscribe") || equals_ignoring_case(kind, "punsubscribe")) {
      // Not confirmed yet: a newer subscribe() for the same name is still on its way.
      if (subscription.confirmed) subscriptions.erase(found);
    }
  }

  // The context died inside hiredis (connect failed, server closed, I/O error); hiredis frees it
  // right after this call.
  void context_lost(const redisAsyncContext* context, const std::string& reason) {
    if (context != context_) return;
    context_ = nullptr;
    forget(std::exchange(state_, State::idle), endpoint_ + ": " + reason, true);
  }

  // We give the context up (close, timeout, refused handshake, reconnect, destruction).
  void drop_context(const std::string& reason) {
    redisAsyncContext* context = std::exchange(context_, nullptr);
    const State was = std::exchange(state_, State::idle);
    const std::string message = endpoint_ + ": " + reason;
    context->data = nullptr;  // no more handle_connect/handle_disconnect/handle_push for us
    // The reason pending commands will receive with their failure replies.
    context->c.err = REDIS_ERR_OTHER;
    std::snprintf(context->c.errstr, sizeof context->c.errstr, "%s", message.c_str());
    redisAsyncFree(context);  // deferred by hiredis when called from inside one of its callbacks
    forget(was, message, false);
  }

  // Everything tied to the lost context: the timer, a pending connect, subscriptions, and the
  // disconnect notification. All callbacks are posted, never run here.
  void forget(State was, const std::string& reason, bool notify_disconnect) {
    timer_.cancel();
    for (auto* subscriptions : {&channels_, &patterns_}) {
      for (auto& [name, subscription] : *subscriptions) {
        if (!subscription.confirmed && subscription.on_subscribed) post_reply(subscription.on_subscribed, reason);
      }
      subscriptions->clear();
    }
    if (was == State::connecting) {
      if (auto callback = std::exchange(on_connected_, nullptr)) {
        post([callback, reason] { callback(Failure{reason}); });
      }
    } else if (was == State::connected && notify_disconnect && on_disconnect_) {
      post([callback = on_disconnect_, reason] { callback(Failure{reason}); });
    }
  }

  std::string not_connected() const { return (endpoint_.empty() ? "redis" : endpoint_) + ": not connected"; }

  // Runs `task` from the io_context, unless the Connection is gone by then.
  void post(std::function<void()> task) {
    boost::asio::post(io_, [weak = weak_from_this(), task = std::move(task)] {
      const auto self = weak.lock();
      if (self && !self->destroyed_) task();
    });
  }

  void post_reply(ReplyCallback callback, const std::string& reason) {
    if (!callback) return;
    post([callback = std::move(callback), reply = make_failure(reason)] { callback(reply); });
  }

  boost::asio::io_context& io_;
  boost::asio::steady_timer timer_;  // connect deadline
  redisAsyncContext* context_ = nullptr;
  State state_ = State::idle;
  std::uint64_t attempt_ = 0;  // tells a stale handshake reply or timer from the current one
  std::string endpoint_;
  ConnectCallback on_connected_;
  DisconnectCallback on_disconnect_;
  std::unordered_map<std::string, Subscription> channels_;
  std::unordered_map<std::string, Subscription> patterns_;
  bool destroyed_ = false;
};

Connection::Connection(boost::asio::io_context& io) : impl_(std::make_shared<Impl>(io)) {}

Connection::~Connection() { impl_->destroy(); }

void Connection::connect(ConnectOptions options, ConnectCallback on_done) {
  impl_->connect(std::move(options), std::move(on_done));
}

void Connection::on_disconnect(DisconnectCallback callback) { impl_->set_disconnect_callback(std::move(callback)); }

void Connection::command(std::vector<std::string> args, ReplyCallback on_reply) {
  impl_->command(std::move(args), std::move(on_reply));
}

void Connection::subscribe(std::vector<std::string> channels, MessageCallback on_message, ReplyCallback on_subscribed) {
  impl_->subscribe(false, std::move(channels), std::move(on_message), std::move(on_subscribed));
}

void Connection::psubscribe(std::vector<std::string> patterns, MessageCallback on_message, ReplyCallback on_subscribed) {
  impl_->subscribe(true, std::move(patterns), std::move(on_message), std::move(on_subscribed));
}

void Connection::unsubscribe(std::vector<std::string> channels) { impl_->unsubscribe(false, std::move(channels)); }

void Connection::punsubscribe(std::vector<std::string> patterns) { impl_->unsubscribe(true, std::move(patterns)); }

void Connection::close() { impl_->close(); }

bool Connection::connected() const { return impl_->connected(); }

}  // namespace tandem::redis
