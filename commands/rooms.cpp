// tandem rooms list|show|events|purge: the operator's view of rooms and their audit trail, read
// from PostgreSQL when [postgres] is configured, else from the embedded SQLite file. Queries and
// formatting live in core/store (RoomStore, room_format); this file parses, connects and prints.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include <unistd.h>

#include "commands/command.hpp"
#include "commands/common.hpp"
#include "core/store/database.hpp"
#include "core/store/migrator.hpp"
#include "core/store/room_format.hpp"
#include "core/store/room_store.hpp"
#include "core/store/store_error.hpp"
#include "core/util/duration.hpp"

namespace tandem::commands {

namespace {

using namespace std::chrono_literals;


constexpr std::int64_t kShowEvents = 20;                  // events printed by `rooms show`
constexpr std::chrono::milliseconds kFollowPoll = 500ms;  // --follow: pause between polls
constexpr std::int64_t kFollowBatch = 1000;               // --follow: events fetched per poll

constexpr std::string_view kTimeForms =
    "a duration back from now (an integer with a unit: ms, s, m, h or d, e.g. 15m, 2h, 30d) or a UTC time "
    "like 2024-11-27T18:30:00Z";

struct RoomsOptions {
  CommonOptions common;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* events = nullptr;
  CLI::App* purge = nullptr;
  std::string room;
  std::string state;
  std::string since;
  std::string until;
  std::int64_t limit = -1;  // -1: the subcommand's default
  std::string format = "table";
  std::vector<std::string> types;
  std::string user;
  bool follow = false;
  bool no_headers = false;
  bool watch = false;              // rooms list --watch: again every `interval`
  std::string interval = "2s";
  std::string older_than;
  bool dry_run = false;
};

// A usage error found after parsing: the message names the accepted forms.
struct UsageError {
  std::string message;
};

std::sig_atomic_t volatile g_stop = 0;

extern "C" void on_stop_signal(int) { g_stop = 1; }

using util::epoch_ms;

store::Format parse_format(const std::string& text) {
  const auto format = store::parse_format(text);
  if (!format) {
    throw UsageError{"--format '" + text + "': expected " + std::string(store::kFormatForms)};
  }
  return *format;
}

// --since / --until: a duration back from now, or an ISO-8601 UTC time.
std::int64_t parse_time(const std::string& flag, const std::string& text, std::int64_t now) {
  if (const auto ago = util::parse_duration(text)) return now - ago->count();
  if (const auto at = store::parse_iso(text)) return *at;
  throw UsageError{flag + " '" + text + "': expected " + std::string(kTimeForms)};
}

std::int64_t limit_or(std::int64_t limit, std::int64_t fallback) { return limit < 0 ? fallback : limit; }

void print(const std::string& text) { std::cout << text << std::flush; }

int run_list(store::RoomStore& rooms, const RoomsOptions& o) {
  const std::int64_t now = epoch_ms();
  store::RoomFilter filter;
  if (!o.state.empty()) {
    if (o.state != "live" && o.state != "idle" && o.state != "archived") {
      throw UsageError{"--state '" + o.state + "': expected live, idle or archived"};
    }
    filter.state = o.state;
  }
  if (!o.since.empty()) filter.active_since_ms = parse_time("--since", o.since, now);
  filter.limit = limit_or(o.limit, 50);
  const auto format = parse_format(o.format);
  if (!o.watch) {
    print(store::format_rooms(rooms.list(filter), format, now, !o.no_headers));
    return kExitOk;
  }
  // --watch: the listing again every interval until Ctrl-C, on a terminal in place of the last
  // one, elsewhere after a line with the time (what `watch` and `kubectl get -w` users expect).
  const auto every = util::parse_duration(o.interval);
  if (!every || every->count() < 100) {
    throw UsageError{"--interval '" + o.interval + "': expected a duration of at least 100ms, e.g. 2s"};
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  while (!g_stop) {
    const std::int64_t at = epoch_ms();
    const std::string listing = store::format_rooms(rooms.list(filter), format, at, !o.no_headers);
    if (terminal) {
      print("\x1b[H\x1b[2J" + store::format_iso(at).substr(0, 19) + " UTC, every " + o.interval + "\n\n" + listing);
    } else {
      print("# " + store::format_iso(at) + "\n" + listing);
    }
    for (auto waited = 0ms; waited < *every && !g_stop; waited += 50ms) std::this_thread::sleep_for(50ms);
  }
  return kExitOk;
}

int room_not_found(const std::string& room) {
  std::cerr << "tandem rooms: room not found: " << room << "\n";
  return kExitRuntime;
}

int run_show(store::RoomStore& rooms, const RoomsOptions& o) {
  const auto format = parse_format(o.format);
  if (format == store::Format::csv) throw UsageError{"show --format '" + o.format + "': expected table or json"};
  const auto room = rooms.find(o.room);
  if (!room) return room_not_found(o.room);
  store::EventFilter filter;
  filter.room_id = o.room;
  filter.limit = kShowEvents;
  print(store::format_room(*room, rooms.events(filter), format, epoch_ms()));
  return kExitOk;
}

int run_events(store::RoomStore& rooms, const RoomsOptions& o) {
  const std::int64_t now = epoch_ms();
  const auto format = parse_format(o.format);
  store::EventFilter filter;
  filter.room_id = o.room;
  for (const auto& type : o.types) {
    std::string upper = type;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    filter.types.push_back(upper);
  }
  if (!o.user.empty()) filter.user_id = o.user;
  if (!o.since.empty()) filter.since_ms = parse_time("--since", o.since, now);
  if (!o.until.empty()) filter.until_ms = parse_time("--until", o.until, now);
  if (o.follow && filter.until_ms) throw UsageError{"--follow cannot be combined with --until"};
  filter.limit = limit_or(o.limit, 100);

  if (!rooms.has_events(o.room) && !rooms.find(o.room)) return room_not_found(o.room);

  auto events = rooms.events(filter);
  print(store::format_events(events, format, !o.no_headers));
  if (!o.follow) return kExitOk;

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::int64_t last_id = events.empty() ? 0 : events.back().id;
  while (!g_stop) {
    for (auto waited = 0ms; waited < kFollowPoll && !g_stop; waited += 50ms) std::this_thread::sleep_for(50ms);
    if (g_stop) break;
    filter.after_id = last_id;  // the oldest kFollowBatch new events: a burst prints in order
    filter.limit = kFollowBatch;
    events = rooms.events(filter);
    if (events.empty()) continue;
    last_id = events.back().id;
    print(store::format_events(events, format, false));
  }
  return kExitOk;
}

int run_purge(store::RoomStore& rooms, const RoomsOptions& o) {
  const auto age = util::parse_duration(o.older_than);
  if (!age) throw UsageError{"--older-than '" + o.older_than + "': expected " + std::string(util::kDurationForms)};
  const auto counts = rooms.purge(epoch_ms() - age->count(), o.dry_run);
  auto plural = [](std::int64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  std::cout << (o.dry_run ? "would purge " : "purged ") << plural(counts.rooms, "archived room", "archived rooms")
            << " inactive for more than " << util::format_duration(*age) << " ("
            << plural(counts.events, "event", "events") << ", " << plural(counts.members, "member", "members")
            << ", " << plural(counts.short_ids, "short id", "short ids") << ")\n";
  return kExitOk;
}

int run_rooms(const RoomsOptions& o) {
  const config::Config config = load_config_and_logging(o.common);
  try {
    // Flags are checked before connecting, so a typo never waits on a database.
    if (!o.format.empty()) parse_format(o.format);
    auto db = store::open_database(config, store::OpenMode::existing);
    store::require_current_schema(*db);
    store::RoomStore rooms(*db);
    if (o.list->parsed()) return run_list(rooms, o);
    if (o.show->parsed()) return run_show(rooms, o);
    if (o.events->parsed()) return run_events(rooms, o);
    return run_purge(rooms, o);
  } catch (const UsageError& e) {
    std::cerr << "tandem rooms: " << e.message << "\n";
    return kExitUsage;
  } catch (const store::StoreError& e) {
    std::cerr << "tandem rooms: " << e.what() << "\n";
    return kExitRuntime;
  }
}

void add_format(CLI::App& app, RoomsOptions& o, std::string_view forms) {
  app.add_option("--format", o.format, "Output: " + std::string(forms) + " (default table)")->type_name("FORMAT");
}

void add_no_headers(CLI::App& app, RoomsOptions& o) {
  app.add_flag("--no-headers", o.no_headers, "Leave out the header line of table and csv output");
}

}  // namespace

Runner add_rooms(CLI::App& sub) {
  auto o = std::make_shared<RoomsOptions>();
  add_common_options(sub, o->common);
  sub.require_subcommand(1);

  o->list = sub.add_subcommand("list", "Rooms with state, members, host and activity, most recently active first");
  o->list->fallthrough();
  o->list->add_option("--state", o->state, "Only rooms in this state: live, idle or archived")->type_name("STATE");
  o->list->add_option("--since", o->since, "Only rooms active since TIME (15m, 2h, 30d or 2024-11-27T18:30:00Z)")
      ->type_name("TIME");
  o->list->add_option("--limit", o->limit, "At most N rooms (default 50; 0 = all)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  add_format(*o->list, *o, store::kFormatForms);
  add_no_headers(*o->list, *o);
  CLI::Option* watch = o->list->add_flag("--watch,-w", o->watch, "List again every --interval until Ctrl-C");
  o->list->add_option("--interval", o->interval, "With --watch: time between listings (default 2s)")
      ->type_name("DURATION")
      ->needs(watch);

  o->show = sub.add_subcommand("show", "One room: state, members, short id and its last 20 events");
  o->show->fallthrough();
  o->show->add_option("room", o->room, "Room id")->required();
  add_format(*o->show, *o, "table or json");

  o->events = sub.add_subcommand("events", "A room's audit trail, oldest first");
  o->events->fallthrough();
  o->events->add_option("room", o->room, "Room id")->required();
  o->events->add_option("--type", o->types, "Only events of this type, e.g. SEEK (repeatable)")->type_name("TYPE");
  o->events->add_option("--user", o->user, "Only events by this user id")->type_name("USER");
  o->events->add_option("--since", o->since, "Only events at or after TIME (15m, 2h or 2024-11-27T18:30:00Z)")
      ->type_name("TIME");
  o->events->add_option("--until", o->until, "Only events before TIME")->type_name("TIME");
  o->events->add_option("--limit", o->limit, "The newest N matching events (default 100; 0 = all)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  add_format(*o->events, *o, store::kFormatForms);
  add_no_headers(*o->events, *o);
  o->events->add_flag("--follow,-f", o->follow, "Keep printing new events as they are written (Ctrl-C stops)");

  o->purge = sub.add_subcommand("purge", "Delete archived rooms and their events beyond a retention period");
  o->purge->fallthrough();
  o->purge->add_option("--older-than", o->older_than, "Retention, e.g. 30d: archived longer ago than this goes")
      ->type_name("DURATION")
      ->required();
  o->purge->add_flag("--dry-run", o->dry_run, "Only count what would be deleted");

  sub.footer("Exit codes: 0 ok, 1 room not found / database unreachable or not migrated, 2 usage.");
  return [o] { return run_rooms(*o); };
}

}  // namespace tandem::commands
