#include "core/util/thread_name.hpp"

#include <pthread.h>

#include <string>

namespace tandem::util {

void name_this_thread(std::string_view name) {
  constexpr std::size_t kMaxName = 15;  // TASK_COMM_LEN less the terminating zero
  const std::string cut(name.substr(0, kMaxName));
  ::pthread_setname_np(::pthread_self(), cut.c_str());  // fails only for a name over the limit
}

}  // namespace tandem::util
