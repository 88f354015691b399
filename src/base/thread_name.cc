#include "base/thread_name.h"

#include <pthread.h>

namespace trib {

void name_this_thread(const std::string& name) {
    // Longer names make pthread_setname_np fail with ERANGE: keep the first 15 bytes.
    (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace trib
