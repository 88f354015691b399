// A request as it arrives on a connection: the size prefix is already stripped, the header is
// decoded at the version its API and version call for, and the body is left for the handler.
#pragma once

#include <cstdint>
#include <span>

#include "base/result.h"
#include "kafka/protocol/api_table.h"
#include "kafka/protocol/request_header.h"

namespace trib::kafka::protocol {

struct request_frame {
    request_header header;
    int16_t header_version = 1;
    const api_info* api = nullptr;  // null for an API key the schemas do not define
    std::span<const uint8_t> body;  // points into the frame passed to parse_request
};

// Parses the header of one request frame (without its 4-byte size). An unknown API key still
// yields the header, read as v1, so the caller can log the correlation id before closing.
result<request_frame> parse_request(std::span<const uint8_t> frame);

// Encodes a request or response header followed by an already-encoded body, with the 4-byte
// size prefix: what goes on the wire.
bytes frame_request(const request_header& header, int16_t header_version,
                    std::span<const uint8_t> body);
bytes frame_response(int32_t correlation_id, int16_t header_version, std::span<const uint8_t> body);
// The size prefix and response header for a body of `body_size` bytes, to be written before
// the body with one gather write (large Fetch bodies are then not copied again).
bytes response_frame_head(int32_t correlation_id, int16_t header_version, size_t body_size);

}  // namespace trib::kafka::protocol
