#include "net/shard_pool.h"

#include "base/assert.h"
#include "base/thread_name.h"

namespace trib::net {

shard_pool::shard_pool(size_t shards) {
    TRIB_ASSERT(shards > 0);
    for (size_t i = 0; i < shards; ++i) {
        _loops.push_back(std::make_unique<asio::io_context>(1));
        _guards.push_back(asio::make_work_guard(*_loops.back()));
    }
}

shard_pool::~shard_pool() {
    stop();
}

void shard_pool::start() {
    TRIB_ASSERT(_threads.empty());
    for (auto& loop : _loops) {
        _threads.emplace_back([l = loop.get(), i = _threads.size()] {
            name_this_thread("kafka-shard-" + std::to_string(i));
            l->run();
        });
    }
}

void shard_pool::stop() {
    _guards.clear();
    for (auto& loop : _loops)
        loop->stop();
    for (auto& t : _threads) {
        if (t.joinable()) t.join();
    }
    _threads.clear();
}

}  // namespace trib::net
