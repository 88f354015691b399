// CRC-32C (Castagnoli), the checksum of Kafka's v2 record batches. Uses the SSE4.2 crc32
// instruction when the CPU has it, else a portable table-driven version; both give the same
// value for the same bytes (tests/unit/model/crc32c_test.cc).
#pragma once

#include <cstdint>
#include <span>

namespace trib::model {

// Extends `crc` (the value returned for the bytes before, 0 to start) over `data`.
uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0);

// The portable version alone, for tests and for CPUs without SSE4.2.
uint32_t crc32c_portable(std::span<const uint8_t> data, uint32_t crc = 0);

}  // namespace trib::model
