#include "core/loadtest/runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/loadtest/address_pool.hpp"
#include "core/loadtest/html_report.hpp"
#include "core/loadtest/report.hpp"
#include "core/loadtest/target.hpp"
#include "core/loadtest/worker.hpp"

namespace tandem::loadtest {

namespace {

namespace json = boost::json;

constexpr auto kProgressEvery = std::chrono::milliseconds(900);

std::string iso_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Prints the live line: rewritten in place on a terminal, one line per second otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter(const Options& o, std::size_t workers)
      : line_(workers), tty_(::isatty(STDERR_FILENO) == 1), enabled_(!o.quiet && (tty_ || o.progress)) {}

  void update(std::size_t worker, const Progress& p) {
    if (!enabled_) return;
    line_.update(worker, p);
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return;
    next_ = now + kProgressEvery;
    const std::string text = line_.render();
    if (tty_) {
      std::cerr << '\r' << text << "\x1b[K" << std::flush;
      dirty_ = true;
    } else {
      std::cerr << text << '\n';
    }
  }
  void done() {
    if (dirty_) std::cerr << '\n';
    dirty_ = false;
  }

 private:
  ProgressLine line_;
  bool tty_;
  bool enabled_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point next_{};
};

json::value result_json(const WorkerResult& r) {
  return json::object{{"index", r.index}, {"elapsed_s", r.elapsed_s}, {"stats", r.stats.to_json()},
                      {"series", r.series}};
}

WorkerResult result_from(const json::value& v) {
  WorkerResult r;
  const auto& o = v.as_object();
  r.index = json::value_to<int>(o.at("index"));
  r.elapsed_s = o.at("elapsed_s").to_number<double>();
  r.stats = Stats::from_json(o.at("stats"));
  r.series = o.at("series").as_array();
  return r;
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone
    done += static_cast<std::size_t>(n);
  }
}

volatile std::sig_atomic_t g_terminate = 0;
extern "C" void on_terminate(int) { g_terminate = 1; }

struct Child {
  int index = 0;
  pid_t pid = -1;
  int fd = -1;
  std::string buffer;
  std::optional<WorkerResult> result;
  std::string failure;
};

// Forks one process per worker; collects their progress and results. Returns the results, or
// the failure of a worker.
std::variant<std::vector<WorkerResult>, std::string> run_forked(const Options& options,
                                                               const std::vector<Target>& targets,
                                                               ProgressPrinter& printer) {
  std::vector<Child> children;
  std::cout.flush();
  std::cerr.flush();
  for (int w = 0; w < options.workers; ++w) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fmt::format("pipe: {}", std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) return fmt::format("fork: {}", std::strerror(errno));
    if (pid == 0) {
      ::close(fds[0]);
      for (const auto& c : children) ::close(c.fd);
      int code = 0;
      try {
        const auto result = run_worker(options, targets, w, [fd = fds[1]](const Progress& p) {
          write_all(fd, "P " + json::serialize(p.to_json()) + "\n");
        });
        write_all(fds[1], "R " + json::serialize(result_json(result)) + "\n");
      } catch (const std::exception& e) {
        write_all(fds[1], std::string("E ") + e.what() + "\n");
        code = 1;
      }
      ::close(fds[1]);
      std::cout.flush();
      ::_exit(code);
    }
    ::close(fds[1]);
    Child c;
    c.index = w;
    c.pid = pid;
    c.fd = fds[0];
    children.push_back(std::move(c));
  }

  // The terminal sends SIGINT to every worker itself; a SIGTERM to this process is passed on.
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, on_terminate);
  bool forwarded = false;

  std::size_t open = children.size();
  while (open > 0) {
    if (g_terminate && !forwarded) {
      for (const auto& c : children) ::kill(c.pid, SIGTERM);
      forwarded = true;
    }
    std::vector<pollfd> fds;
    std::vector<Child*> owners;
    for (auto& c : children) {
      if (c.fd < 0) continue;
      fds.push_back(pollfd{c.fd, POLLIN, 0});
      owners.push_back(&c);
    }
    const int ready = ::poll(fds.data(), fds.size(), 500);
    if (ready < 0 && errno != EINTR) return fmt::format("poll: {}", std::strerror(errno));
    for (std::size_t i = 0; ready > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Child& c = *owners[i];
      char chunk[65536];
      const ssize_t n = ::read(c.fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(c.fd);
        c.fd = -1;
        --open;
        continue;
      }
      c.buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t newline;
      while ((newline = c.buffer.find('\n')) != std::string::npos) {
        const std::string message = c.buffer.substr(0, newline);
        c.buffer.erase(0, newline + 1);
        if (message.size() < 2) continue;
        try {
          if (message[0] == 'P') {
            printer.update(static_cast<std::size_t>(c.index), Progress::from_json(json::parse(message.substr(2))));
          } else if (message[0] == 'R') {
            c.result = result_from(json::parse(message.substr(2)));
          } else if (message[0] == 'E') {
            c.failure = message.substr(2);
          }
        } catch (const std::exception& e) {
          c.failure = fmt::format("unreadable message from the worker: {}", e.what());
        }
      }
    }
  }
  std::vector<WorkerResult> results;
  std::string failure;
  for (auto& c : children) {
    int status = 0;
    while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (c.result) {
      results.push_back(std::move(*c.result));
      continue;
    }
    if (c.failure.empty()) {
      c.failure = WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                      : fmt::format("exited with status {} without a result", WEXITSTATUS(status));
    }
    failure += fmt::format("{}worker {}: {}", failure.empty() ? "" : "; ", c.index, c.failure);
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!failure.empty()) return failure;
  return results;
}

}  // namespace

int run(const RawOptions& raw) {
  auto validated = validate(raw);
  if (auto* refusal = std::get_if<std::string>(&validated)) {
    std::cerr << "tandem loadtest: " << *refusal << "\n";
    return kExitUsage;
  }
  const Options& options = std::get<Options>(validated);

  AddressPool pool;
  if (!options.bind.empty()) {
    auto parsed = AddressPool::parse(options.bind);
    if (auto* refusal = std::get_if<std::string>(&parsed)) {
      std::cerr << "tandem loadtest: " << *refusal << "\n";
      return kExitUsage;
    }
    pool = std::get<AddressPool>(std::move(parsed));
    if (pool.empty()) {
      std::cerr << "tandem loadtest: --bind gives no address\n";
      return kExitUsage;
    }
  } else if (options.address_per_room) {
    pool = AddressPool::loopback_rooms();
  }

  std::vector<Target> targets;
  for (const auto& url : options.urls) {
    auto parsed = parse_target(url);
    if (auto* refusal = std::get_if<std::string>(&parsed)) {
      std::cerr << "tandem loadtest: " << *refusal << "\n";
      return kExitUsage;
    }
    targets.push_back(std::get<Target>(std::move(parsed)));
  }
  for (const auto& [flag, file] : {std::pair{"--out", &options.out}, std::pair{"--html", &options.html}}) {
    if (!file->empty() && !std::ofstream(*file, std::ios::app)) {
      std::cerr << "tandem loadtest: " << flag << " " << *file << ": cannot write there\n";
      return kExitUsage;
    }
  }
  if (auto refusal = check_descriptor_limit(options)) {
    std::cerr << "tandem loadtest: " << *refusal << "\n";
    return kExitUsage;
  }
  for (auto& target : targets) {
    if (auto failure = resolve(target)) {
      std::cerr << "tandem loadtest: " << *failure << "\n";
      return kExitUnreachable;
    }
    if (auto failure = probe(target, "", options.connect_timeout)) {
      std::cerr << "tandem loadtest: " << *failure << "\n";
      return kExitUnreachable;
    }
  }
  if (!pool.empty()) {
    const std::string source = pool.at(0);
    if (auto failure = probe(targets.front(), source, options.connect_timeout)) {
      std::cerr << "tandem loadtest: --bind/--address-per-room: connecting from " << source
                << " failed: " << *failure << "\n";
      return kExitUsage;
    }
  }

  if (!options.quiet) {
    std::cerr << fmt::format("tandem loadtest: run {}: {} clients, rooms of {}, {} profile, {} worker{}, {:g} s\n",
                             options.run_id, options.clients, options.room_size, profile_name(options.profile),
                             options.workers, options.workers == 1 ? "" : "s",
                             std::chrono::duration<double>(options.duration).count());
  }
  const std::string started_at = iso_now();
  ProgressPrinter printer(options, static_cast<std::size_t>(options.workers));
  std::vector<WorkerResult> results;
  if (options.workers == 1) {
    results.push_back(run_worker(options, targets, 0, [&](const Progress& p) { printer.update(0, p); }));
  } else {
    auto outcome = run_forked(options, targets, printer);
    if (auto* failure = std::get_if<std::string>(&outcome)) {
      printer.done();
      std::cerr << "tandem loadtest: INVALID run: " << *failure << "\n";
      return kExitInvalid;
    }
    results = std::get<std::vector<WorkerResult>>(std::move(outcome));
  }
  printer.done();

  const Report report = build_report(options, std::move(results), started_at);
  const std::string text = report_text(report);
  if (options.json_output) {
    std::cout << text << std::endl;
  } else {
    std::cout << human_table(report) << std::flush;
  }
  if (!options.out.empty()) {
    std::ofstream out(options.out, std::ios::trunc);
    out << text << "\n";
    if (!out.flush()) {
      std::cerr << "tandem loadtest: cannot write " << options.out << "\n";
      return kExitThresholdMissed;  // a runtime failure: exit 1, as for every command
    }
    if (!options.quiet) std::cerr << "tandem loadtest: report written to " << options.out << "\n";
  }
  if (!options.html.empty()) {
    std::ofstream out(options.html, std::ios::trunc);
    out << html_report(report_json(report));
    if (!out.flush()) {
      std::cerr << "tandem loadtest: cannot write " << options.html << "\n";
      return kExitThresholdMissed;  // a runtime failure: exit 1, as for every command
    }
    if (!options.quiet) std::cerr << "tandem loadtest: HTML report written to " << options.html << "\n";
  }
  if (!options.quiet && report.verdict != Verdict::passed && report.verdict != Verdict::threshold_missed) {
    std::cerr << fmt::format("tandem loadtest: {}: {}\n", verdict_name(report.verdict), report.health.advice);
  }
  return exit_code(report.verdict);
}

}  // namespace tandem::loadtest
