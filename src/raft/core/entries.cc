// Entries as v2 record batches, and the two control batches Raft itself writes.
#include <algorithm>

#include "base/assert.h"
#include "base/big_endian.h"
#include "model/record_batch.h"
#include "raft/core/types.h"

namespace trib::raft {
namespace {

// Control record key: version int16, type int16 (Kafka's layout; 0 and 1 are its
// transaction markers). Values: version int16, then the fields below.
constexpr int16_t leader_start_type = 100;  // leader int32
constexpr int16_t config_type = 101;        // voter count int32, voters int32 each
constexpr size_t max_control_value = 1 << 16;

std::vector<uint8_t> control_batch(int16_t type, std::vector<uint8_t> value, int64_t now_ms) {
    std::vector<uint8_t> key(4);
    big_endian::store(key.data(), 0, 2);
    big_endian::store(key.data() + 2, static_cast<uint16_t>(type), 2);
    model::record r{.timestamp = now_ms, .key = std::move(key), .value = std::move(value)};
    auto batch = model::build_batch({.control = true}, std::span(&r, 1));
    TRIB_ASSERT_MSG(batch.has_value(), "building a control batch failed");
    return std::move(*batch);
}

// The control type of a verified control batch, or -1 when it has no readable key.
int control_type(std::span<const uint8_t> batch, std::vector<uint8_t>* value) {
    int type = -1;
    auto walked =
        model::for_each_record(batch, max_control_value, [&](const model::record_view& r) {
            if (type == -1 && r.key && r.key->size() >= 4) {
                type = static_cast<int16_t>(big_endian::load(r.key->data() + 2, 2));
                if (value != nullptr && r.value) {
                    value->assign(r.value->begin(), r.value->end());
                }
            }
        });
    return walked ? type : -1;
}

}  // namespace

bool configuration::contains(node_id id) const {
    return std::binary_search(voters.begin(), voters.end(), id);
}

namespace {

result<entry> make_entry(batch_bytes batch, bool check_crc) {
    if (!batch) {
        return unexpected(make_error_code(errc::invalid_batch));
    }
    std::span<const uint8_t> bytes(batch->data(), batch->size());
    auto header = check_crc ? model::verify_batch(bytes) : model::parse_batch_header(bytes);
    if (!header || header->size_bytes() != batch->size() || header->partition_leader_epoch < 0) {
        return unexpected(make_error_code(errc::invalid_batch));
    }
    entry e{.batch = std::move(batch),
            .term = header->partition_leader_epoch,
            .base_offset = header->base_offset,
            .last_offset = header->last_offset()};
    if (header->is_control()) {
        int type = control_type(e.bytes(), nullptr);
        if (type == leader_start_type) {
            e.kind = entry_kind::leader_start;
        } else if (type == config_type) {
            e.kind = entry_kind::config;
        }
    }
    return e;
}

}  // namespace

result<entry> entry_from_batch(batch_bytes batch) {
    return make_entry(std::move(batch), true);
}

result<entry> entry_from_verified_batch(batch_bytes batch) {
    return make_entry(std::move(batch), false);
}

result<configuration> config_of(const entry& e) {
    std::vector<uint8_t> value;
    if (e.kind != entry_kind::config || control_type(e.bytes(), &value) != config_type ||
        value.size() < 6) {
        return unexpected(make_error_code(errc::invalid_batch));
    }
    auto count = static_cast<int32_t>(big_endian::load(value.data() + 2, 4));
    if (count < 0 || value.size() != 6 + 4 * static_cast<size_t>(count)) {
        return unexpected(make_error_code(errc::invalid_batch));
    }
    configuration c;
    for (size_t i = 0; i < static_cast<size_t>(count); ++i) {
        c.voters.push_back(static_cast<node_id>(big_endian::load(value.data() + 6 + 4 * i, 4)));
    }
    if (!std::is_sorted(c.voters.begin(), c.voters.end()) ||
        std::adjacent_find(c.voters.begin(), c.voters.end()) != c.voters.end()) {
        return unexpected(make_error_code(errc::invalid_batch));
    }
    return c;
}

std::vector<uint8_t> make_leader_start_batch(node_id leader, int64_t now_ms) {
    std::vector<uint8_t> value(6);
    big_endian::store(value.data(), 0, 2);
    big_endian::store(value.data() + 2, static_cast<uint32_t>(leader), 4);
    return control_batch(leader_start_type, std::move(value), now_ms);
}

std::vector<uint8_t> make_config_batch(const configuration& config, int64_t now_ms) {
    std::vector<uint8_t> value(6 + 4 * config.voters.size());
    big_endian::store(value.data(), 0, 2);
    big_endian::store(value.data() + 2, config.voters.size(), 4);
    for (size_t i = 0; i < config.voters.size(); ++i) {
        big_endian::store(value.data() + 6 + 4 * i, static_cast<uint32_t>(config.voters[i]), 4);
    }
    return control_batch(config_type, std::move(value), now_ms);
}

}  // namespace trib::raft
