#include "core/util/bounded_worker.hpp"

#include <utility>

#include "core/util/thread_name.hpp"

namespace tandem::util {

BoundedWorker::BoundedWorker(std::size_t capacity, std::string name)
    : capacity_(capacity), name_(std::move(name)), thread_([this] { run(); }) {}

BoundedWorker::~BoundedWorker() { stop(); }

bool BoundedWorker::try_post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= capacity_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

std::size_t BoundedWorker::pending() const {
  std::lock_guard lock(mutex_);
  return jobs_.size() + (running_job_ ? 1 : 0);
}

void BoundedWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void BoundedWorker::run() {
  name_this_thread(name_);
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
      running_job_ = true;
    }
    job();
    std::lock_guard lock(mutex_);
    running_job_ = false;
  }
}

}  // namespace tandem::util
