#pragma once

// Wake-ups for thousands of simulated clients on one asio timer: a binary heap of (time, task),
// served by a single steady_timer armed at the earliest entry. Cheaper than one timer per client
// and exact to the timer's resolution (no tick quantisation).
//
// Single-threaded: all calls and all wake-ups on the thread that runs the io_context.

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace tandem::loadtest {

using Clock = std::chrono::steady_clock;

class Scheduler {
 public:
  class Task {
   public:
    // Called at or after the requested time. The task asks for its next wake-up itself.
    virtual void on_wake(Clock::time_point now) = 0;

   protected:
    virtual ~Task() = default;

   private:
    friend class Scheduler;
    std::uint64_t token_ = 0;  // the heap entry with this token is the live one
    Clock::time_point pending_ = Clock::time_point::max();
  };

  explicit Scheduler(boost::asio::io_context& io);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Wakes `task` at `at`. A task has one wake-up: an earlier request replaces a later one; a
  // later request while an earlier one is pending is ignored (the task recomputes when it wakes).
  void wake_at(Task& task, Clock::time_point at);
  // Removes every entry of `task` from the heap: afterwards the task may be destroyed. Linear in
  // the number of pending wake-ups; cheap once stop() has emptied the heap.
  void cancel(Task& task);
  // Stops the timer; every pending wake-up is dropped and no task is woken again.
  void stop();

 private:
  struct Entry {
    Clock::time_point at;
    Task* task;
    std::uint64_t token;
    bool operator>(const Entry& other) const { return at > other.at; }
  };
  void arm(Clock::time_point at);
  void fire();

  struct Timer;
  std::unique_ptr<Timer> timer_;
  std::vector<Entry> heap_;
  std::uint64_t next_token_ = 1;
  Clock::time_point armed_ = Clock::time_point::max();
  bool stopped_ = false;
  bool firing_ = false;  // inside fire(): it re-arms once at the end
};

}  // namespace tandem::loadtest
