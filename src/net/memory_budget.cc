#include "net/memory_budget.h"

#include "base/assert.h"

namespace trib::net {

memory_budget::units& memory_budget::units::operator=(units&& o) noexcept {
    if (this != &o) {
        reset();
        _budget = std::exchange(o._budget, nullptr);
        _bytes = o._bytes;
    }
    return *this;
}

void memory_budget::units::reset() {
    if (_budget) std::exchange(_budget, nullptr)->release(_bytes);
}

void memory_budget::units::merge(units&& more) {
    if (!more._budget) return;
    if (!_budget) {
        *this = std::move(more);
        return;
    }
    TRIB_ASSERT(_budget == more._budget);
    _bytes += std::exchange(more._bytes, 0);
    more._budget = nullptr;
}

memory_budget::units memory_budget::try_acquire(size_t bytes) {
    size_t current = _in_use.load(std::memory_order_relaxed);
    do {
        if (current > 0 && current + bytes > _limit) return {};
    } while (!_in_use.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
    return units(this, bytes);
}

void memory_budget::add_waiter(const std::shared_ptr<async_event>& event) {
    std::lock_guard lock(_waiters_mutex);
    _waiters.push_back(event);
}

memory_budget::overdraft& memory_budget::overdraft::operator=(overdraft&& o) noexcept {
    if (this != &o) {
        reset();
        _budget = std::exchange(o._budget, nullptr);
    }
    return *this;
}

void memory_budget::overdraft::reset() {
    if (!_budget) return;
    auto* b = std::exchange(_budget, nullptr);
    b->_overdrawn.store(false);
    b->wake_waiters();
}

memory_budget::overdraft memory_budget::try_overdraft() {
    bool expected = false;
    if (!_overdrawn.compare_exchange_strong(expected, true)) return {};
    return overdraft(this);
}

memory_budget::units memory_budget::acquire_overdrawn(const overdraft& held, size_t bytes) {
    TRIB_ASSERT(held._budget == this);
    _in_use.fetch_add(bytes, std::memory_order_relaxed);
    return units(this, bytes);
}

void memory_budget::release(size_t bytes) {
    size_t before = _in_use.fetch_sub(bytes, std::memory_order_relaxed);
    TRIB_ASSERT(before >= bytes);
    wake_waiters();
}

void memory_budget::wake_waiters() {
    std::vector<std::weak_ptr<async_event>> woken;
    {
        std::lock_guard lock(_waiters_mutex);
        woken.swap(_waiters);
    }
    for (auto& w : woken) {
        if (auto e = w.lock()) e->signal();
    }
}

}  // namespace trib::net
