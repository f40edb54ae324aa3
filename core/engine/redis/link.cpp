#include "core/engine/redis/link.hpp"

#include <spdlog/spdlog.h>

#include "core/util/random.hpp"

namespace tandem::engine::redis {

namespace {

constexpr auto kReconnectMin = 100ms;
constexpr auto kReconnectMax = 5s;
const std::string kGroup = "tandem";

template <class Token>
auto async_command(tandem::redis::Connection& conn, std::vector<std::string> args, Token&& token) {
  return asio::async_initiate<Token, void(Reply)>(
      [&conn](auto handler, std::vector<std::string> a) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        conn.command(std::move(a), [shared](Reply reply) { (*shared)(std::move(reply)); });
      },
      token, std::move(args));
}

template <class Token>
auto async_connect(tandem::redis::Connection& conn, tandem::redis::ConnectOptions options, Token&& token) {
  return asio::async_initiate<Token, void(std::optional<tandem::redis::Failure>)>(
      [&conn](auto handler, tandem::redis::ConnectOptions o) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        conn.connect(std::move(o), [shared](std::optional<tandem::redis::Failure> f) { (*shared)(std::move(f)); });
      },
      token, std::move(options));
}

template <class Token>
auto async_subscribe(tandem::redis::Connection& conn, std::string channel,
                     tandem::redis::Connection::MessageCallback on_message, Token&& token) {
  return asio::async_initiate<Token, void(Reply)>(
      [&conn](auto handler, std::string ch, tandem::redis::Connection::MessageCallback cb) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        conn.subscribe({std::move(ch)}, std::move(cb), [shared](Reply reply) { (*shared)(std::move(reply)); });
      },
      token, std::move(channel), std::move(on_message));
}

}  // namespace

RedisLink::RedisLink(Context& ctx, Handlers handlers)
    : ctx_(ctx),
      handlers_(std::move(handlers)),
      cmd_(std::make_unique<tandem::redis::Connection>(ctx.io)),
      sub_(std::make_unique<tandem::redis::Connection>(ctx.io)),
      wake_(ctx.io) {
  cmd_->on_disconnect([this](const tandem::redis::Failure& f) { lost(f.message); });
  sub_->on_disconnect([this](const tandem::redis::Failure& f) { lost(f.message); });
}

RedisLink::~RedisLink() = default;

void RedisLink::start() { ctx_.spawn(run(), "redis link"); }

void RedisLink::stop() {
  stopping_ = true;
  wake_.cancel();
  cmd_->close();
  sub_->close();
  up_ = false;
}

awaitable<Reply> RedisLink::call(std::vector<std::string> args) {
  co_return co_await async_command(*cmd_, std::move(args), use_awaitable);
}

awaitable<Reply> RedisLink::eval(const Script& script, std::vector<std::string> args) {
  std::vector<std::string> full{"EVALSHA", script.sha1};
  full.insert(full.end(), args.begin(), args.end());
  auto reply = co_await call(full);
  if (reply.type == Reply::Type::error && reply.text.starts_with("NOSCRIPT")) {
    full[0] = "EVAL";
    full[1] = std::string(script.source);
    reply = co_await call(std::move(full));
  }
  co_return reply;
}

void RedisLink::fire(std::vector<std::string> args) {
  cmd_->command(std::move(args), [this](Reply reply) {
    if (reply.is_error()) ctx_.metrics.backend_errors.with("redis").inc();
  });
}

void RedisLink::command(std::vector<std::string> args, std::function<void(Reply)> done) {
  cmd_->command(std::move(args), std::move(done));
}

tandem::redis::ConnectOptions RedisLink::connect_options(std::string_view role) const {
  tandem::redis::ConnectOptions o;
  // Operators find a node's connections in CLIENT LIST by name. Redis refuses names with spaces
  // or other characters outside '!'..'~'; server.node_id may hold any.
  o.client_name = "tandem:" + ctx_.instance + ":" + std::string(role);
  for (char& c : o.client_name) {
    if (c < '!' || c > '~') c = '_';
  }
  o.host = ctx_.config.redis->host;
  o.port = ctx_.config.redis->port;
  o.password = ctx_.config.redis->password;
  o.db = ctx_.config.redis->db;
  o.timeout = ctx_.config.redis->connect_timeout;
  return o;
}

void RedisLink::lost(const std::string& why) {
  if (up_) {
    up_ = false;
    ctx_.metrics.backend_errors.with("redis").inc();
    spdlog::error("cluster: lost Redis ({}); reconnecting", why);
    if (handlers_.on_down) handlers_.on_down();
  }
  cmd_->close();
  sub_->close();
  wake_.cancel();
}

awaitable<void> RedisLink::run() {
  auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMin);
  bool logged = false;
  while (!stopping_) {
    if (!up_) {
      if (!co_await establish()) {
        if (!logged) {
          spdlog::warn("cluster: Redis not reachable at {}:{}; retrying", ctx_.config.redis->host,
                       ctx_.config.redis->port);
        }
        logged = true;
        co_await ctx_.sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMax));
        continue;
      }
      logged = false;
      backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectMin);
    }
    wake_.expires_at(SteadyTime::max());
    co_await wake_.async_wait(asio::as_tuple(use_awaitable));
  }
}

awaitable<bool> RedisLink::establish() {
  cmd_->close();
  sub_->close();
  if (auto failure = co_await async_connect(*cmd_, connect_options("cmd"), use_awaitable)) co_return false;
  if (auto failure = co_await async_connect(*sub_, connect_options("sub"), use_awaitable)) {
    cmd_->close();
    co_return false;
  }
  for (const Script* s : {&commit_script(), &advance_script(), &seed_script(), &forget_script(), &short_id_script(),
                          &pin_attempt_script()}) {
    fire({"SCRIPT", "LOAD", std::string(s->source)});
  }
  // The epoch tells whether Redis kept its data since this node last saw it.
  const auto& keys = ctx_.keys;
  auto epoch = co_await callv("GET", keys.epoch());
  if (epoch.type == Reply::Type::nil) {
    co_await callv("SET", keys.epoch(), util::random_hex(8), "NX");
    epoch = co_await callv("GET", keys.epoch());
  }
  if (epoch.type != Reply::Type::string) co_return false;
  const bool data_lost = !epoch_.empty() && epoch.text != epoch_;
  epoch_ = epoch.text;
  const auto group = co_await callv("XGROUP", "CREATE", keys.audit(), kGroup, "0", "MKSTREAM");
  if (group.type == Reply::Type::failure) co_return false;
  const auto subscribed = co_await async_subscribe(
      *sub_, keys.node_channel(ctx_.instance),
      [this](const tandem::redis::Message& m) {
        if (handlers_.on_message) handlers_.on_message(m);
      },
      use_awaitable);
  if (subscribed.is_error()) co_return false;
  const bool first = !registered_;
  registered_ = true;
  up_ = true;
  if (handlers_.on_up) handlers_.on_up(first, data_lost);
  co_return true;
}

}  // namespace tandem::engine::redis
