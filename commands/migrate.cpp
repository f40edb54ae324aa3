// tandem migrate [up|status] [--to N] [--dry-run] [--wait DURATION]: applies the embedded schema
// migrations to the configured database (PostgreSQL when [postgres] is set, else the SQLite file
// in server.data_dir). The work is core/store's Migrator; this file parses, connects and prints.
#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "commands/command.hpp"
#include "commands/common.hpp"
#include "core/store/database.hpp"
#include "core/store/migrator.hpp"
#include "core/store/room_format.hpp"
#include "core/store/store_error.hpp"
#include "core/util/duration.hpp"

namespace tandem::commands {

namespace {

using namespace std::chrono_literals;


// --wait backoff between connection attempts: doubles from the first to the cap.
constexpr std::chrono::milliseconds kFirstRetryDelay = 250ms;
constexpr std::chrono::milliseconds kMaxRetryDelay = 5s;

struct MigrateOptions {
  CommonOptions common;
  int to = 0;
  bool dry_run = false;
  std::string wait;
  CLI::Option* to_option = nullptr;
  CLI::App* status = nullptr;
  std::string format = "table";  // status: table | json
  bool no_headers = false;       // status: no header line in the table
};

int usage_error(const std::string& message) {
  std::cerr << "tandem migrate: " << message << "\n";
  return kExitUsage;
}

std::string version_text(int version) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d", version);
  return buffer;
}

// Opens the database, retrying connection failures with backoff until `wait` has passed.
std::unique_ptr<store::Connection> connect(const config::Config& config, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto delay = kFirstRetryDelay;
  for (;;) {
    try {
      return store::open_database(config, store::OpenMode::create);
    } catch (const store::StoreError& e) {
      const auto now = std::chrono::steady_clock::now();
      if (e.kind() != store::StoreError::Kind::connection || now >= deadline) throw;
      const auto pause = std::min(delay, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
      spdlog::warn("{}; retrying in {}", e.what(), util::format_duration(pause));
      std::this_thread::sleep_for(pause);
      delay = std::min(delay * 2, kMaxRetryDelay);
    }
  }
}

int applied_version(store::Migrator& migrator) {
  int version = 0;
  for (const auto& s : migrator.status()) {
    if (s.state != store::MigrationStatus::State::pending) version = std::max(version, s.version);
  }
  return version;
}

std::string state_name(store::MigrationStatus::State state) {
  switch (state) {
    case store::MigrationStatus::State::applied: return "applied";
    case store::MigrationStatus::State::pending: return "pending";
    case store::MigrationStatus::State::changed: return "changed";
    case store::MigrationStatus::State::unknown: return "unknown";
  }
  return "unknown";
}

// The table (with a "database:" line and a header unless --no-headers), or one JSON document:
// {"database":…,"version":N,"migrations":[{"version","name","state","applied_at"}…]}.
int run_status(store::Connection& db, const MigrateOptions& options) {
  store::Migrator migrator(db);
  const auto statuses = migrator.status();
  int problems = 0;
  for (const auto& s : statuses) {
    const bool bad = s.state == store::MigrationStatus::State::changed || s.state == store::MigrationStatus::State::unknown;
    problems += bad ? 1 : 0;
  }
  if (options.format == "json") {
    boost::json::array migrations;
    for (const auto& s : statuses) {
      migrations.push_back(boost::json::object{
          {"version", s.version},
          {"name", s.name},
          {"state", state_name(s.state)},
          {"applied_at", s.applied_at_ms ? boost::json::value(store::format_iso(*s.applied_at_ms)) : nullptr}});
    }
    const boost::json::object doc{{"database", db.description()},
                                  {"version", applied_version(migrator)},
                                  {"migrations", std::move(migrations)}};
    std::cout << boost::json::serialize(doc) << "\n";
  } else {
    if (!options.no_headers) {
      std::cout << "database: " << db.description() << "\n";
      std::cout << "VERSION  NAME                  STATE    APPLIED AT (UTC)\n";
    }
    for (const auto& s : statuses) {
      std::string state = state_name(s.state);
      if (s.state == store::MigrationStatus::State::changed || s.state == store::MigrationStatus::State::unknown) {
        std::transform(state.begin(), state.end(), state.begin(), [](unsigned char c) { return std::toupper(c); });
      }
      std::string applied = "-";
      if (s.applied_at_ms) {
        applied = store::format_iso(*s.applied_at_ms).substr(0, 19);
        applied[10] = ' ';
      }
      char line[160];
      std::snprintf(line, sizeof line, "%-7s  %-20s  %-7s  %s\n", version_text(s.version).c_str(),
                    s.name.substr(0, 20).c_str(), state.c_str(), applied.c_str());
      std::cout << line;
    }
  }
  if (problems > 0) {
    try {
      migrator.pending();  // throws the explanation of the first problem
    } catch (const store::StoreError& e) {
      std::cerr << "tandem migrate: " << e.what() << "\n";
    }
    return kExitRuntime;
  }
  return kExitOk;
}

int run_dry_run(store::Connection& db, std::optional<int> target) {
  store::Migrator migrator(db);
  const auto pending = migrator.pending(target);
  if (pending.empty()) {
    std::cout << "-- nothing to do: " << db.description() << " is at version "
              << applied_version(migrator) << "\n";
    return kExitOk;
  }
  std::cout << "-- tandem migrate --dry-run: " << pending.size() << " pending migration"
            << (pending.size() == 1 ? "" : "s") << " for " << db.description() << " (nothing is applied)\n";
  for (const auto& m : pending) {
    std::cout << "\n-- " << m.label() << " (sha256 " << m.checksum() << ")\n" << m.sql;
    if (!m.sql.ends_with('\n')) std::cout << "\n";
  }
  return kExitOk;
}

int run_up(store::Connection& db, std::optional<int> target) {
  store::Migrator migrator(db);
  std::cout << "database: " << db.description() << "\n" << std::flush;
  const int count = migrator.up(target, [](const store::Migration& m, std::chrono::milliseconds elapsed) {
    std::cout << "applied " << m.label() << " (" << elapsed.count() << " ms)\n" << std::flush;
  });
  const int version = applied_version(migrator);
  if (count == 0) {
    std::cout << "nothing to do: database is at version " << version << "\n";
  } else {
    std::cout << "database is at version " << version << " (" << count << " migration" << (count == 1 ? "" : "s")
              << " applied)\n";
  }
  return kExitOk;
}

int run_migrate(const MigrateOptions& options) {
  const config::Config config = load_config_and_logging(options.common);
  const bool status = options.status->parsed();

  std::chrono::milliseconds wait{0};
  if (!options.wait.empty()) {
    const auto parsed = util::parse_duration(options.wait);
    if (!parsed) return usage_error("--wait '" + options.wait + "': expected " + std::string(util::kDurationForms));
    wait = *parsed;
  }
  std::optional<int> target;
  if (options.to_option->count() > 0) target = options.to;
  if (status && (target || options.dry_run)) return usage_error("status takes neither --to nor --dry-run");
  if (options.format != "table" && options.format != "json") {
    return usage_error("--format '" + options.format + "': expected table or json");
  }

  try {
    auto db = connect(config, wait);
    if (target) {
      const int latest = store::Migrator(*db).latest();
      if (*target < 1 || *target > latest) {
        return usage_error("--to " + std::to_string(*target) + ": this tandem knows versions 1 to " +
                           std::to_string(latest));
      }
    }
    if (status) return run_status(*db, options);
    if (options.dry_run) return run_dry_run(*db, target);
    return run_up(*db, target);
  } catch (const store::StoreError& e) {
    std::cerr << "tandem migrate: " << e.what() << "\n";
    return kExitRuntime;
  }
}

}  // namespace

Runner add_migrate(CLI::App& sub) {
  auto options = std::make_shared<MigrateOptions>();
  add_common_options(sub, options->common);
  options->to_option =
      sub.add_option("--to", options->to, "Apply migrations up to and including version N (default: all)")
          ->type_name("N");
  sub.add_flag("--dry-run", options->dry_run, "Print the SQL of the pending migrations without applying it");
  sub.add_option("--wait", options->wait,
                 "Keep retrying to connect for up to DURATION (e.g. 2m), with backoff; default: fail at once")
      ->type_name("DURATION");
  sub.add_subcommand("up", "Apply the pending migrations (the default)")->fallthrough();
  options->status = sub.add_subcommand("status", "List applied and pending migrations")->fallthrough();
  options->status->add_option("--format", options->format, "Output: table or json (default table)")
      ->type_name("FORMAT");
  options->status->add_flag("--no-headers", options->no_headers, "Leave out the database line and the table header");
  sub.require_subcommand(0, 1);
  sub.footer(
      "Migrations are embedded in the binary, applied in order, each in its own transaction, and\n"
      "recorded in schema_migrations. Several tandem migrate may run at once: they take turns.\n"
      "Exit codes: 0 ok, 1 cannot connect / migration failed / database changed or newer, 2 usage.");
  return [options] { return run_migrate(*options); };
}

}  // namespace tandem::commands
