// The controller log's bytes: each entry is one v2 record batch whose records' values are
// commands, and the snapshot is the whole image with a CRC. Decoding checks every length,
// count and enum against the input and fails with a reason rather than trusting it.
// Layout: docs/formats/controller.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "cluster/core/metadata.h"

namespace trib::cluster::core {

std::vector<uint8_t> encode_command(const command& cmd);
result<command, std::string> decode_command(std::span<const uint8_t> bytes);

// One command as a record batch ready to propose (the leader stamps offsets and term).
std::vector<uint8_t> command_batch(const command& cmd, int64_t now_ms);
// The commands of one committed data entry, in order.
result<std::vector<command>, std::string> commands_of_batch(std::span<const uint8_t> batch);

std::vector<uint8_t> encode_image(const image& img);
result<image, std::string> decode_image(std::span<const uint8_t> bytes);

}  // namespace trib::cluster::core
