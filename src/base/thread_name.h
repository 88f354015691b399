// Names the calling thread for `top -H`, `ps -L`, perf and gdb (Linux keeps 15 bytes).
#pragma once

#include <string>

namespace trib {

void name_this_thread(const std::string& name);

}  // namespace trib
