// Decoding by API key and version chosen at run time, for tools that see arbitrary frames
// (the fuzzer, the golden-bytes tests, capture tools). Handlers use the typed messages.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"
#include "kafka/protocol/wire.h"

namespace trib::kafka::protocol {

enum class message_kind { request, response };

// Decodes the body of `api_key`'s request or response at `version` (trailing bytes are an
// error) and encodes the decoded value again. A codec that keeps everything it reads gives
// back exactly the input.
result<bytes> reencode(int16_t api_key, message_kind kind, int16_t version,
                       std::span<const uint8_t> body);

}  // namespace trib::kafka::protocol
