// libFuzzer target for the record batch parser: any bytes as a stretch of a segment or a
// `records` field. Walking batches, reading headers and iterating records (decompressing all
// four codecs) never crashes (ASan, UBSan) and never claims more memory than the limit.
//
// Oracle beyond "no crash": a batch the walker accepts has a consistent header, and the
// records it yields are exactly recordsCount, each inside the decompressed bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/assert.h"
#include "model/record_batch.h"

using namespace trib::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    batch_walker walk(std::span<const uint8_t>(data, size));
    for (int i = 0; i < 64; ++i) {
        auto h = walk.next();
        if (!h || !h->has_value()) break;
        const batch_header& header = **h;
        TRIB_ASSERT(walk.current().size() == header.size_bytes());
        TRIB_ASSERT(header.record_count <= header.last_offset_delta + 1);
        int32_t seen = 0;
        auto st = for_each_record(walk.current(), 1 << 20, [&](const record_view&) { ++seen; });
        TRIB_ASSERT(!st || seen == header.record_count);
    }
    return 0;
}
