// A preload for chaos runs (the `slow-fsync` fault): every fsync and fdatasync of the process
// first sleeps for the number of milliseconds held in the first four bytes (little-endian
// u32) of the file named by TRIB_SLOW_SYNC_FILE. The harness rewrites that number while the
// node runs; the file is mapped, so each call reads it without a system call. 0: no delay.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace {

using sync_fn = int (*)(int);

struct state {
    sync_fn real_fsync = nullptr;
    sync_fn real_fdatasync = nullptr;
    const volatile uint32_t* delay_ms = nullptr;
};

state& get() {
    static state s;
    static std::once_flag once;
    std::call_once(once, [] {
        s.real_fsync = reinterpret_cast<sync_fn>(dlsym(RTLD_NEXT, "fsync"));
        s.real_fdatasync = reinterpret_cast<sync_fn>(dlsym(RTLD_NEXT, "fdatasync"));
        const char* path = std::getenv("TRIB_SLOW_SYNC_FILE");
        if (path == nullptr) return;
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        void* m = ::mmap(nullptr, sizeof(uint32_t), PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (m != MAP_FAILED) s.delay_ms = static_cast<const volatile uint32_t*>(m);
    });
    return s;
}

void delay(const state& s) {
    if (s.delay_ms == nullptr) return;
    uint32_t ms = *s.delay_ms;
    if (ms == 0) return;
    timespec t{.tv_sec = static_cast<time_t>(ms / 1000),
               .tv_nsec = static_cast<long>(ms % 1000) * 1000000L};
    while (::nanosleep(&t, &t) != 0) {
    }
}

}  // namespace

extern "C" int fsync(int fd) {
    const state& s = get();
    delay(s);
    return s.real_fsync(fd);
}

extern "C" int fdatasync(int fd) {
    const state& s = get();
    delay(s);
    return s.real_fdatasync(fd);
}
