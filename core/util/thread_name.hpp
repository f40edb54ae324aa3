#pragma once

#include <string_view>

namespace tandem::util {

// Names the calling thread as `top -H`, `ps -L`, perf and /proc/PID/task/*/comm show it: "loop-1",
// "sqlite-journal", … Linux keeps 15 bytes; longer names are cut there.
void name_this_thread(std::string_view name);

}  // namespace tandem::util
