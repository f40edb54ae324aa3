#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/redis/connection.hpp"
#include "tests/integration/fixtures.hpp"

using namespace std::chrono_literals;
using tandem::redis::Connection;
using tandem::redis::ConnectOptions;
using tandem::redis::Failure;
using tandem::redis::Message;
using tandem::redis::Reply;
using tandem::testing::RedisFixture;

namespace {

constexpr auto kWait = 5s;  // upper bound for anything the tests wait for

// Runs `io` until `done()` holds or `timeout` passes; returns done().
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout = kWait) {
  auto work = boost::asio::make_work_guard(io);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(deadline - now);
  }
  return true;
}

// Runs `io` for `duration`, whatever happens.
void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  run_until(io, [] { return false; }, duration);
}

ConnectOptions options_for(const RedisFixture& redis) {
  ConnectOptions options;
  options.host = redis.host();
  options.port = redis.port();
  return options;
}

std::optional<Failure> connect(boost::asio::io_context& io, Connection& connection, const ConnectOptions& options) {
  std::optional<std::optional<Failure>> outcome;
  connection.connect(options, [&](std::optional<Failure> failure) { outcome = std::move(failure); });
  REQUIRE(run_until(io, [&] { return outcome.has_value(); }));
  return *outcome;
}

void connect_or_fail(boost::asio::io_context& io, Connection& connection, const ConnectOptions& options) {
  const std::optional<Failure> failure = connect(io, connection, options);
  INFO((failure ? failure->message : std::string()));
  REQUIRE_FALSE(failure.has_value());
  REQUIRE(connection.connected());
}

Reply call(boost::asio::io_context& io, Connection& connection, std::vector<std::string> args) {
  std::optional<Reply> reply;
  connection.command(std::move(args), [&](Reply r) { reply = std::move(r); });
  REQUIRE(run_until(io, [&] { return reply.has_value(); }));
  return *reply;
}

Reply status(std::string text) { return Reply{Reply::Type::status, 0, std::move(text), {}}; }
Reply string(std::string text) { return Reply{Reply::Type::string, 0, std::move(text), {}}; }
Reply integer(std::int64_t value) { return Reply{Reply::Type::integer, value, {}, {}}; }
Reply nil() { return Reply{}; }

// A loopback port with nothing listening on it.
std::uint16_t closed_port(boost::asio::io_context& io) {
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

}  // namespace

TEST_CASE("redis connection round-trips binary values and typed replies", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  Connection connection(io);
  connect_or_fail(io, connection, options_for(redis));

  const std::string binary("a\0b\xff\r\n$3\r\nc", 12);
  const std::string key = redis.key("binary");
  CHECK(call(io, connection, {"SET", key, binary}) == status("OK"));
  const Reply value = call(io, connection, {"GET", key});
  CHECK(value == string(binary));
  CHECK(value.text.size() == 12);

  CHECK(call(io, connection, {"GET", redis.key("missing")}) == nil());
  CHECK(call(io, connection, {"INCRBY", redis.key("counter"), "41"}) == integer(41));
  CHECK(call(io, connection, {"RPUSH", redis.key("list"), "x", std::string("\0", 1)}) == integer(2));
  const Reply list = call(io, connection, {"LRANGE", redis.key("list"), "0", "-1"});
  CHECK(list == Reply{Reply::Type::array, 0, {}, {string("x"), string(std::string("\0", 1))}});
}

TEST_CASE("redis connection carries values larger than the socket buffers", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  Connection connection(io);
  connect_or_fail(io, connection, options_for(redis));

  std::string big(4 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 % 251);
  CHECK(call(io, connection, {"SET", redis.key("big"), big}) == status("OK"));
  const Reply value = call(io, connection, {"GET", redis.key("big")});
  CHECK(value.text.size() == big.size());
  CHECK(value.text == big);
}

TEST_CASE("redis commands issued while connecting run after the handshake", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  Connection connection(io);
  std::vector<std::string> events;
  connection.connect(options_for(redis), [&](std::optional<Failure> failure) {
    events.push_back(failure ? "failed: " + failure->message : "connected");
  });
  connection.command({"SET", redis.key("early"), "1"}, [&](Reply r) { events.push_back(to_string(r)); });
  connection.command({"GET", redis.key("early")}, [&](Reply r) { events.push_back(to_string(r)); });
  REQUIRE(run_until(io, [&] { return events.size() == 3; }));
  CHECK(events == std::vector<std::string>{"connected", "OK", "\"1\""});
}

TEST_CASE("redis pipelined replies arrive in command order", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  Connection connection(io);
  connect_or_fail(io, connection, options_for(redis));

  constexpr int kCommands = 200;
  std::vector<std::int64_t> seen;
  for (int i = 0; i < kCommands; ++i) {
    connection.command({"INCR", redis.key("sequence")}, [&](Reply reply) { seen.push_back(reply.integer); });
  }
  REQUIRE(run_until(io, [&] { return seen.size() == kCommands; }));
  for (int i = 0; i < kCommands; ++i) CHECK(seen[i] == i + 1);
}

TEST_CASE("redis error replies are values and leave the connection usable", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  Connection connection(io);
  connect_or_fail(io, connection, options_for(redis));

  REQUIRE(call(io, connection, {"SET", redis.key("text"), "not a number"}) == status("OK"));
  const Reply error = call(io, connection, {"INCR", redis.key("text")});
  CHECK(error.type == Reply::Type::error);
  CHECK(error.is_error());
  CHECK(error.text.rfind("ERR", 0) == 0);
  CHECK(call(io, connection, {"NO-SUCH-COMMAND"}).type == Reply::Type::error);
  CHECK(call(io, connection, {"PING"}) == status("PONG"));
  CHECK(connection.connected());
}

TEST_CASE("redis subscriber receives what another connection publishes", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  Connection subscriber(io);
  Connection publisher(io);
  connect_or_fail(io, subscriber, options_for(redis));
  connect_or_fail(io, publisher, options_for(redis));

  const std::string channel = redis.key("room:1");
  std::vector<Message> messages;
  std::vector<Reply> confirmations;
  subscriber.subscribe(
      {channel}, [&](const Message& m) { messages.push_back(m); }, [&](Reply r) { confirmations.push_back(r); });
  subscriber.psubscribe(
      {redis.key("room:*")}, [&](const Message& m) { messages.push_back(m); },
      [&](Reply r) { confirmations.push_back(r); });
  REQUIRE(run_until(io, [&] { return confirmations.size() == 2; }));
  CHECK(confirmations[0] == Reply{Reply::Type::array, 0, {}, {string("subscribe"), string(channel), integer(1)}});
  CHECK(confirmations[1].elements.at(0) == string("psubscribe"));

  SECTION("messages reach both the channel and the pattern subscription") {
    const std::string payload("frame\0with nul", 14);
    CHECK(call(io, publisher, {"PUBLISH", channel, payload}) == integer(2));
    REQUIRE(run_until(io, [&] { return messages.size() == 2; }));
    for (const Message& m : messages) {
      CHECK(m.channel == channel);
      CHECK(m.payload == payload);
    }
    CHECK(((messages[0].pattern.empty() && messages[1].pattern == redis.key("room:*")) ||
           (messages[1].pattern.empty() && messages[0].pattern == redis.key("room:*"))));
  }

  SECTION("ordinary commands are refused in subscriber mode") {
    const Reply refused = call(io, subscriber, {"GET", channel});
    CHECK(refused.type == Reply::Type::failure);
    CHECK(refused.text.find("subscriber mode") != std::string::npos);
  }

  SECTION("after unsubscribing nothing is delivered and commands work again") {
    subscriber.unsubscribe({channel});
    subscriber.punsubscribe({redis.key("room:*")});
    // Refused while any subscription is left; accepted once the server confirmed both.
    REQUIRE(run_until(io, [&] { return call(io, subscriber, {"PING"}) == status("PONG"); }));
    CHECK(call(io, publisher, {"PUBLISH", channel, "late"}) == integer(0));
    run_for(io, 100ms);
    CHECK(messages.empty());
  }
}

TEST_CASE("redis connect to a closed port fails with a reason and no crash", "[integration][redis]") {
  boost::asio::io_context io;
  ConnectOptions options;
  options.port = closed_port(io);
  Connection connection(io);

  const std::optional<Failure> failure = connect(io, connection, options);
  REQUIRE(failure.has_value());
  INFO(failure->message);
  CHECK(failure->message.find("refused") != std::string::npos);
  CHECK_FALSE(connection.connected());

  const Reply reply = call(io, connection, {"PING"});
  CHECK(reply.type == Reply::Type::failure);
  CHECK(reply.text.find("not connected") != std::string::npos);
}

TEST_CASE("redis connect times out against a server that never answers", "[integration][redis]") {
  boost::asio::io_context io;
  // Accepts TCP connections (the kernel completes the handshake) but never reads or writes.
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  ConnectOptions options;
  options.port = silent.local_endpoint().port();
  options.timeout = 300ms;
  Connection connection(io);

  const auto start = std::chrono::steady_clock::now();
  const std::optional<Failure> failure = connect(io, connection, options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(failure.has_value());
  INFO(failure->message);
  CHECK(failure->message.find("timed out") != std::string::npos);
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 3s);
  CHECK_FALSE(connection.connected());
}

TEST_CASE("redis connect reports a refused AUTH and SELECT picks the database", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;

  SECTION("AUTH against a server without a password fails the connect") {
    ConnectOptions options = options_for(redis);
    options.password = "not-the-password";
    Connection connection(io);
    const std::optional<Failure> failure = connect(io, connection, options);
    REQUIRE(failure.has_value());
    INFO(failure->message);
    CHECK(failure->message.find("AUTH failed") != std::string::npos);
    CHECK(failure->message.find("not-the-password") == std::string::npos);
    CHECK_FALSE(connection.connected());
  }

  SECTION("a key written with db = 1 is not visible in db 0") {
    ConnectOptions options = options_for(redis);
    options.db = 1;
    Connection db1(io);
    Connection db0(io);
    connect_or_fail(io, db1, options);
    connect_or_fail(io, db0, options_for(redis));
    const std::string key = redis.key("in-db-1");
    CHECK(call(io, db1, {"SET", key, "1"}) == status("OK"));
    CHECK(call(io, db0, {"EXISTS", key}) == integer(0));
    CHECK(call(io, db1, {"DEL", key}) == integer(1));  // the fixture only cleans db 0
  }
}

TEST_CASE("redis connect names the connection, a name Redis refuses fails the connect", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  ConnectOptions options = options_for(redis);
  options.client_name = "tandem:test~" + redis.prefix().substr(0, 8) + ":cmd";
  Connection named(io);
  connect_or_fail(io, named, options);
  CHECK(call(io, named, {"CLIENT", "GETNAME"}) == string(options.client_name));

  options.client_name = "has a space";
  Connection refused(io);
  const std::optional<Failure> failure = connect(io, refused, options);
  REQUIRE(failure.has_value());
  INFO(failure->message);
  CHECK(failure->message.find("CLIENT failed") != std::string::npos);
}

TEST_CASE("redis disconnection fails pending commands, then notifies once", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  Connection victim(io);
  Connection killer(io);
  connect_or_fail(io, victim, options_for(redis));
  connect_or_fail(io, killer, options_for(redis));

  std::vector<std::string> events;
  victim.on_disconnect([&](const Failure& f) { events.push_back("disconnected: " + f.message); });
  const Reply id = call(io, victim, {"CLIENT", "ID"});
  REQUIRE(id.type == Reply::Type::integer);
  // Blocks server-side for at most 5 s, so it is pending when the connection dies.
  victim.command({"BLPOP", redis.key("never-filled"), "5"}, [&](Reply r) { events.push_back(to_string(r)); });
  run_for(io, 50ms);

  CHECK(call(io, killer, {"CLIENT", "KILL", "ID", std::to_string(id.integer)}) == integer(1));
  REQUIRE(run_until(io, [&] { return events.size() == 2; }));
  CHECK(events[0].rfind("(failure) ", 0) == 0);
  CHECK(events[1].rfind("disconnected: ", 0) == 0);
  CHECK_FALSE(victim.connected());
  CHECK(call(io, victim, {"PING"}).type == Reply::Type::failure);
  run_for(io, 100ms);
  CHECK(events.size() == 2);

  SECTION("the same Connection can connect again") {
    connect_or_fail(io, victim, options_for(redis));
    CHECK(call(io, victim, {"PING"}) == status("PONG"));
  }
}

TEST_CASE("redis close fails pending commands without a disconnect notification", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  Connection connection(io);
  connect_or_fail(io, connection, options_for(redis));
  bool notified = false;
  connection.on_disconnect([&](const Failure&) { notified = true; });

  std::optional<Reply> pending;
  connection.command({"BLPOP", redis.key("never-filled"), "5"}, [&](Reply r) { pending = std::move(r); });
  run_for(io, 50ms);
  connection.close();
  REQUIRE(run_until(io, [&] { return pending.has_value(); }));
  CHECK(pending->type == Reply::Type::failure);
  CHECK(pending->text.find("closed by the client") != std::string::npos);
  run_for(io, 100ms);
  CHECK_FALSE(notified);
  CHECK_FALSE(connection.connected());
}

TEST_CASE("redis connection destroyed with commands in flight calls nothing back", "[integration][redis]") {
  RedisFixture redis;
  boost::asio::io_context io;
  int callbacks = 0;

  SECTION("destroyed from outside") {
    auto connection = std::make_unique<Connection>(io);
    connect_or_fail(io, *connection, options_for(redis));
    connection->on_disconnect([&](const Failure&) { ++callbacks; });
    connection->command({"PING"}, [&](Reply) { ++callbacks; });
    connection->subscribe({redis.key("ch")}, [&](const Message&) { ++callbacks; });
    connection.reset();
    run_for(io, 200ms);
    CHECK(callbacks == 0);
  }

  SECTION("destroyed from inside its own reply callback") {
    auto connection = std::make_unique<Connection>(io);
    connect_or_fail(io, *connection, options_for(redis));
    connection->on_disconnect([&](const Failure&) { ++callbacks; });
    connection->command({"PING"}, [&](Reply reply) {
      ++callbacks;
      CHECK(reply == status("PONG"));
      connection.reset();
    });
    connection->command({"PING"}, [&](Reply) { ++callbacks; });
    REQUIRE(run_until(io, [&] { return connection == nullptr; }));
    run_for(io, 200ms);
    CHECK(callbacks == 1);
  }

  SECTION("destroyed while connecting") {
    auto connection = std::make_unique<Connection>(io);
    connection->connect(options_for(redis), [&](std::optional<Failure>) { ++callbacks; });
    connection->command({"PING"}, [&](Reply) { ++callbacks; });
    connection.reset();
    run_for(io, 200ms);
    CHECK(callbacks == 0);
  }
}
