// Thread names (what `top -H` and perf show): set as given, cut to Linux's 15 bytes.
#include "base/thread_name.h"

#include <array>
#include <atomic>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <pthread.h>

namespace trib {
namespace {

std::string name_of(std::thread& t) {
    std::array<char, 16> buf{};
    EXPECT_EQ(pthread_getname_np(t.native_handle(), buf.data(), buf.size()), 0);
    return buf.data();
}

TEST(thread_name, names_the_calling_thread_and_cuts_long_names) {
    for (const auto& [given, shown] : {std::pair<std::string, std::string>{"cleaner", "cleaner"},
                                       {"kafka-shard-1234567", "kafka-shard-123"}}) {
        std::atomic<bool> named{false}, done{false};
        std::thread t([&, g = given] {
            name_this_thread(g);
            named = true;
            while (!done)
                std::this_thread::yield();
        });
        while (!named)
            std::this_thread::yield();
        EXPECT_EQ(name_of(t), shown);
        done = true;
        t.join();
    }
}

}  // namespace
}  // namespace trib
