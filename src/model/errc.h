// Why a record batch (or its compressed records) was refused. Each maps to the Kafka error a
// broker returns for it: see kafka_error_of() in the server.
#pragma once

#include <system_error>

namespace trib::model {

enum class errc {
    truncated = 1,            // fewer bytes than the header or batchLength says
    bad_length,               // batchLength below the header size or above the limit
    bad_magic,                // magic is not 2
    bad_crc,                  // CRC-32C does not match
    bad_record_count,         // recordsCount < 0, or not lastOffsetDelta + 1, or records left over
    bad_record,               // a record's lengths or varints do not fit its bytes
    unsupported_compression,  // codec 5..7
    decompression_failed,     // the codec rejected the compressed bytes
    decompressed_too_large,   // inflating would exceed the size limit
    compression_failed,
};
const std::error_category& model_category();
inline std::error_code make_error_code(errc e) {
    return {static_cast<int>(e), model_category()};
}

}  // namespace trib::model

template <>
struct std::is_error_code_enum<trib::model::errc> : std::true_type {};
