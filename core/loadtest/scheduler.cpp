#include "core/loadtest/scheduler.hpp"

#include <algorithm>
#include <functional>

#include <boost/asio/steady_timer.hpp>

namespace tandem::loadtest {

namespace {
// Entries due within this many are run in the same timer firing.
constexpr auto kBatch = std::chrono::microseconds(50);
// At most this many wake-ups per firing; then the loop serves I/O before the rest.
constexpr int kMaxPerFiring = 4096;
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
  auto now = Clock::now();
  int run_since_clock = 0;
  int run = 0;
  while (!heap_.empty() && !stopped_ && run < kMaxPerFiring) {
    if (heap_.front().at > now + kBatch) {
      if (run_since_clock == 0) break;
      now = Clock::now();  // time moved on while we worked: look again
      run_since_clock = 0;
      continue;
    }
    ++run_since_clock;
    ++run;
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
