#pragma once

// Helpers for the store integration tests: a PostgreSQL schema of the test's own, a temporary
// directory, and running the built `tandem` binary with a controlled environment.
// PostgreSQL settings come from TANDEM_TEST_PG_* (`source /tmp/tandem-services/env`); when they
// are missing or the server does not answer, the test FAILS (never skips).

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.hpp"
#include "core/store/connection.hpp"
#include "core/store/postgres_connection.hpp"
#include "core/store/sqlite_connection.hpp"

namespace tandem::store_test {

using Env = std::map<std::string, std::string>;

inline std::string random_hex(std::size_t digits) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < digits; ++i) s.push_back(kHex[rng() % 16]);
  return s;
}

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("tandem-store-" + random_hex(12))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) {
    FAIL(name << " is not set: run `bash scripts/services start && source /tmp/tandem-services/env`");
  }
  return value;
}

inline config::Postgres test_pg_settings() {
  config::Postgres pg;
  pg.host = required_env("TANDEM_TEST_PG_HOST");
  pg.port = static_cast<std::uint16_t>(std::stoi(required_env("TANDEM_TEST_PG_PORT")));
  pg.user = required_env("TANDEM_TEST_PG_USER");
  const char* password = std::getenv("TANDEM_TEST_PG_PASSWORD");
  pg.password = password ? password : "";
  pg.database = required_env("TANDEM_TEST_PG_DB");
  pg.connect_timeout = std::chrono::seconds(5);
  return pg;
}

// The environment that points `tandem` at `pg` (and, through libpq's PGOPTIONS, at `schema`).
inline Env pg_env(const config::Postgres& pg, const std::string& schema) {
  Env env{{"TANDEM_POSTGRES_HOST", pg.host},
          {"TANDEM_POSTGRES_PORT", std::to_string(pg.port)},
          {"TANDEM_POSTGRES_USER", pg.user},
          {"TANDEM_POSTGRES_DATABASE", pg.database}};
  if (!pg.password.empty()) env["TANDEM_POSTGRES_PASSWORD"] = pg.password;
  if (!schema.empty()) env["PGOPTIONS"] = "-c search_path=" + schema;
  return env;
}

// A schema of the test's own in the test database, dropped with its contents at the end.
// Processes find it through PGOPTIONS (env()); in-process connections through connect().
class PgSchema {
 public:
  PgSchema() : settings_(test_pg_settings()), name_("t_store_" + random_hex(16)) {
    admin_ = store::open_postgres(settings_);
    admin_->execute_script("CREATE SCHEMA " + name_);
  }
  ~PgSchema() {
    try {
      admin_->execute_script("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
    } catch (...) {
    }
  }
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;

  const std::string& name() const { return name_; }
  const config::Postgres& settings() const { return settings_; }
  Env env() const { return pg_env(settings_, name_); }

  std::unique_ptr<store::Connection> connect() const {
    auto db = store::open_postgres(settings_);
    db->execute_script("SET search_path TO " + name_);
    return db;
  }

 private:
  config::Postgres settings_;
  std::string name_;
  std::unique_ptr<store::Connection> admin_;
};

// A SQLite database in a temporary directory: server.data_dir for `tandem`.
class SqliteDir {
 public:
  Env env() const { return {{"TANDEM_SERVER_DATA_DIR", dir_.path().string()}}; }
  std::filesystem::path file() const { return dir_.path() / "tandem.db"; }
  std::unique_ptr<store::Connection> connect() const { return store::open_sqlite(file(), store::OpenMode::create); }

 private:
  TempDir dir_;
};

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

// A running `tandem` with its stdout and stderr on pipes; killed if still running at the end.
class Process {
 public:
  Process(const std::vector<std::string>& args, const Env& env) {
    int out_pipe[2], err_pipe[2];
    REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
    // Built before fork: the child only calls async-signal-safe functions.
    std::vector<std::string> storage{TANDEM_BINARY};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (const char* keep : {"PATH", "HOME", "LANG", "TZ"}) {
      if (const char* v = std::getenv(keep)) env_storage.push_back(std::string(keep) + "=" + v);
    }
    for (const auto& [k, v] : env) env_storage.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
    const std::string cwd = cwd_.path().string();  // no ./tandem.toml there

    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out_pipe[1], STDOUT_FILENO);
      ::dup2(err_pipe[1], STDERR_FILENO);
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
  }

  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Reads output until `done(out)` is true or `timeout` passes; returns whether it became true.
  template <typename Predicate>
  bool read_until(Predicate done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(out_)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      if (!pump(static_cast<int>(left.count()))) return done(out_);
    }
    return true;
  }

  void signal(int sig) { ::kill(pid_, sig); }

  // Waits for the exit (killing the process after `timeout`) and returns everything it printed.
  Result finish(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_fd_ >= 0 || err_fd_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ::kill(pid_, SIGKILL);
        break;
      }
      pump(static_cast<int>(left.count()));
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = out_;
    r.err = err_;
    return r;
  }

  const std::string& out() const { return out_; }

 private:
  // One poll round; false when both pipes are closed.
  bool pump(int timeout_ms) {
    pollfd fds[2];
    int n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    if (n == 0) return false;
    if (::poll(fds, static_cast<nfds_t>(n), timeout_ms) <= 0) return true;
    for (int i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[4096];
      const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      const bool is_out = fds[i].fd == out_fd_;
      if (got <= 0) {
        ::close(fds[i].fd);
        (is_out ? out_fd_ : err_fd_) = -1;
      } else {
        (is_out ? out_ : err_).append(buffer, static_cast<std::size_t>(got));
      }
    }
    return true;
  }

  TempDir cwd_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
};

inline Result run_tandem(const std::vector<std::string>& args, const Env& env,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  Process p(args, env);
  return p.finish(timeout);
}

inline std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace tandem::store_test

namespace tandem::store_test {

// One empty database of either backend.
class TestDatabase {
 public:
  explicit TestDatabase(store::Backend backend) : backend_(backend) {
    if (backend == store::Backend::postgres) {
      pg_ = std::make_unique<PgSchema>();
    } else {
      sqlite_ = std::make_unique<SqliteDir>();
    }
  }
  store::Backend backend() const { return backend_; }
  Env env() const { return pg_ ? pg_->env() : sqlite_->env(); }
  std::unique_ptr<store::Connection> connect() const { return pg_ ? pg_->connect() : sqlite_->connect(); }

 private:
  store::Backend backend_;
  std::unique_ptr<PgSchema> pg_;
  std::unique_ptr<SqliteDir> sqlite_;
};

inline std::string name_of(store::Backend backend) {
  return backend == store::Backend::postgres ? "postgres" : "sqlite";
}

}  // namespace tandem::store_test
