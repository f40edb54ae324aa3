#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace tandem::util {

// One thread running jobs in the order they were posted, from a queue of at most `capacity`
// jobs. Work that must not run on an I/O thread (PBKDF2 of a room PIN) goes here.
//
// Written here rather than on asio::thread_pool: the bound (refuse at `capacity`, so that an
// overload is answered instead of queued without limit) is the point, and a thread pool has none.
class BoundedWorker {
 public:
  // `name` names its thread (util::name_this_thread).
  BoundedWorker(std::size_t capacity, std::string name);
  ~BoundedWorker();  // stop()
  BoundedWorker(const BoundedWorker&) = delete;
  BoundedWorker& operator=(const BoundedWorker&) = delete;

  // Queues `job`; false (and `job` dropped unrun) when `capacity` jobs wait or stop() was called.
  bool try_post(std::function<void()> job);
  // Jobs waiting or running.
  std::size_t pending() const;
  // Runs the jobs already queued, then joins. Later posts are refused.
  void stop();

 private:
  void run();

  const std::size_t capacity_;
  const std::string name_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool running_job_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tandem::util
