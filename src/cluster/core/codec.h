// The controller log's bytes: each entry is one v2 record batch whose records' values are
// commands, and the snapshot is the whole image with a CRC. Decoding checks every length,
// count and enum against the input and fails with a reason rather than trusting it.
// Layout: docs/formats/controller.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/byte_io.h"
#include "base/result.h"
#include "cluster/core/metadata.h"

namespace trib::cluster::core {

// Field codecs, shared with the controller's requests (cluster/controller_rpc). Readers
// mark the reader failed on bad input; counts are believed only as far as the input holds.
void put_broker(byte_writer& w, const broker& b);
broker get_broker(byte_reader& r);
void put_replicas(byte_writer& w, const std::vector<replica_list>& partitions);
std::vector<replica_list> get_replicas(byte_reader& r);
void put_configs(byte_writer& w, const std::map<std::string, std::string>& configs);
std::map<std::string, std::string> get_configs(byte_reader& r);

std::vector<uint8_t> encode_command(const command& cmd);
result<command, std::string> decode_command(std::span<const uint8_t> bytes);

// One command as a record batch ready to propose (the leader stamps offsets and term).
std::vector<uint8_t> command_batch(const command& cmd, int64_t now_ms);
// The commands of one committed data entry, in order.
result<std::vector<command>, std::string> commands_of_batch(std::span<const uint8_t> batch);

std::vector<uint8_t> encode_image(const image& img);
// The same in an older snapshot version (tests of the upgrade path); 1 carries no group ids.
std::vector<uint8_t> encode_image_version(const image& img, uint16_t version);
result<image, std::string> decode_image(std::span<const uint8_t> bytes);

}  // namespace trib::cluster::core
