#include "net/memory_budget.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <gtest/gtest.h>

namespace trib::net {
namespace {

TEST(memory_budget, takes_bytes_while_they_fit_and_gives_them_back) {
    memory_budget budget(100);
    auto a = budget.try_acquire(60);
    ASSERT_TRUE(a.acquired());
    auto b = budget.try_acquire(40);
    ASSERT_TRUE(b.acquired());
    EXPECT_EQ(budget.in_use(), 100U);
    EXPECT_FALSE(budget.try_acquire(1).acquired());
    a.reset();
    EXPECT_EQ(budget.in_use(), 40U);
    auto c = budget.try_acquire(60);
    EXPECT_TRUE(c.acquired());
    auto moved = std::move(c);
    EXPECT_FALSE(c.acquired());  // NOLINT(bugprone-use-after-move): the point of the test
    EXPECT_EQ(budget.in_use(), 100U);
    moved = memory_budget::units();
    b.reset();
    EXPECT_EQ(budget.in_use(), 0U);
}

TEST(memory_budget, one_request_larger_than_the_budget_passes_alone) {
    memory_budget budget(100);
    auto big = budget.try_acquire(500);
    ASSERT_TRUE(big.acquired());
    EXPECT_FALSE(budget.try_acquire(1).acquired());
    big.reset();
    EXPECT_TRUE(budget.try_acquire(500).acquired());
}

TEST(memory_budget, the_overdraft_lets_one_reader_past_the_limit_at_a_time) {
    memory_budget budget(100);
    auto a = budget.try_acquire(60);  // two half-read requests hold the budget
    auto b = budget.try_acquire(40);
    ASSERT_FALSE(budget.try_acquire(30).acquired());
    auto over = budget.try_overdraft();
    ASSERT_TRUE(over.held());
    EXPECT_FALSE(budget.try_overdraft().held()) << "one reader at a time";
    auto more = budget.acquire_overdrawn(over, 30);
    a.merge(std::move(more));
    EXPECT_EQ(a.bytes(), 90U);
    EXPECT_EQ(budget.in_use(), 130U);
    over.reset();
    EXPECT_TRUE(budget.try_overdraft().held()) << "given back";
    a.reset();
    b.reset();
    EXPECT_EQ(budget.in_use(), 0U);
}

TEST(memory_budget, giving_bytes_back_wakes_a_waiting_reader) {
    asio::io_context io;
    memory_budget budget(10);
    auto held = budget.try_acquire(10);
    auto event = std::make_shared<async_event>(io.get_executor());
    budget.add_waiter(event);
    bool woken = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            woken = co_await event->wait_for(std::chrono::seconds(30));
        },
        asio::detached);
    io.poll();  // the waiter is now parked
    EXPECT_FALSE(woken);
    held.reset();
    io.run_for(std::chrono::seconds(5));
    EXPECT_TRUE(woken);
}

}  // namespace
}  // namespace trib::net
