#include "core/loadtest/scheduler.hpp"

#include <algorithm>
#include <functional>

#include <boost/asio/steady_timer.hpp>

namespace tandem::loadtest {

namespace {
// Entries due within this many are run in the same timer firing.
constexpr auto kBatch = std::chrono::microseconds(50);
// A firing runs wake-ups for at most this long, then lets the loop serve the I/O that became
// ready meanwhile (reads, write completions) before it goes on: the rest is still due, so the
// re-armed timer fires at the loop's next reactor pass. Without a bound, a generator near its
// capacity ran thousands of wake-ups (100-600 ms) in one firing while its sockets waited, and
// reported its own backlog as the target's latency.
constexpr auto kFiringBudget = std::chrono::milliseconds(1);
// The clock is read again after this many wake-ups (and whenever the next one is not yet due).
constexpr int kWakeupsPerClockRead = 16;
}  // namespace

struct Scheduler::Timer {
  explicit Timer(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

Scheduler::Scheduler(boost::asio::io_context& io) : timer_(std::make_unique<Timer>(io)) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::wake_at(Task& task, Clock::time_point at) {
  if (stopped_ || task.pending_ <= at) return;
  task.pending_ = at;
  task.token_ = next_token_++;
  heap_.push_back(Entry{at, &task, task.token_});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
  if (at < armed_ && !firing_) arm(at);
}

void Scheduler::cancel(Task& task) {
  task.token_ = 0;
  task.pending_ = Clock::time_point::max();
  if (std::erase_if(heap_, [&](const Entry& e) { return e.task == &task; }) > 0) {
    std::make_heap(heap_.begin(), heap_.end(), std::greater<>());
  }
}

void Scheduler::stop() {
  stopped_ = true;
  heap_.clear();
  armed_ = Clock::time_point::max();
  timer_->timer.cancel();
}

void Scheduler::arm(Clock::time_point at) {
  armed_ = at;
  timer_->timer.expires_at(at);
  timer_->timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // replaced by an earlier arm(), or stopped
    fire();
  });
}

void Scheduler::fire() {
  armed_ = Clock::time_point::max();
  firing_ = true;
  const auto started = Clock::now();
  auto now = started;
  int since_clock = 0;
  while (!heap_.empty() && !stopped_) {
    if (since_clock == kWakeupsPerClockRead || heap_.front().at > now + kBatch) {
      if (since_clock == 0) break;  // nothing due
      now = Clock::now();           // time moved on while we worked: look again
      since_clock = 0;
      if (now - started >= kFiringBudget) break;
      continue;
    }
    ++since_clock;
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    const Entry entry = heap_.back();
    heap_.pop_back();
    if (entry.task->token_ != entry.token) continue;
    entry.task->pending_ = Clock::time_point::max();
    entry.task->on_wake(std::max(now, entry.at));
  }
  firing_ = false;
  if (!heap_.empty() && !stopped_) arm(heap_.front().at);
}

}  // namespace tandem::loadtest
