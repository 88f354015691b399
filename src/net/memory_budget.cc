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

void memory_budget::release(size_t bytes) {
    size_t before = _in_use.fetch_sub(bytes, std::memory_order_relaxed);
    TRIB_ASSERT(before >= bytes);
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
