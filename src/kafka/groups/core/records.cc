#include "kafka/groups/core/records.h"

namespace trib::kafka::groups {

namespace {

constexpr int16_t offset_key_version = 1;
constexpr int16_t group_key_version = 2;
constexpr int16_t offset_value_version = 3;
constexpr int16_t group_value_version = 3;

using protocol::reader;
using protocol::writer;

}  // namespace

bytes encode_key(const offset_key& k) {
    writer w;
    w.write_int16(offset_key_version);
    w.write_string(k.group_id, false);
    w.write_string(k.partition.topic, false);
    w.write_int32(k.partition.partition);
    return std::move(w).data();
}

bytes encode_key(const group_key& k) {
    writer w;
    w.write_int16(group_key_version);
    w.write_string(k.group_id, false);
    return std::move(w).data();
}

bytes encode_value(const committed_offset& v) {
    writer w;
    w.write_int16(offset_value_version);
    w.write_int64(v.offset);
    w.write_int32(v.leader_epoch);
    w.write_string(v.metadata, false);
    w.write_int64(v.commit_timestamp_ms);
    return std::move(w).data();
}

bytes encode_value(const stored_group& v) {
    writer w;
    w.write_int16(group_value_version);
    w.write_string(v.protocol_type, false);
    w.write_int32(v.generation);
    w.write_nullable_string(v.protocol, false);
    w.write_nullable_string(v.leader, false);
    w.write_int64(v.state_timestamp_ms);
    w.write_array_length(static_cast<int32_t>(v.members.size()), false);
    for (const auto& m : v.members) {
        w.write_string(m.member_id, false);
        w.write_nullable_string(m.group_instance_id, false);
        w.write_string(m.client_id, false);
        w.write_string(m.client_host, false);
        w.write_int32(m.rebalance_timeout_ms);
        w.write_int32(m.session_timeout_ms);
        w.write_bytes(m.subscription, false);
        w.write_bytes(m.assignment, false);
    }
    return std::move(w).data();
}

std::optional<std::variant<offset_key, group_key>> decode_key(const bytes& data) {
    reader r(data);
    int16_t version = r.read_int16();
    std::variant<offset_key, group_key> out;
    if (version == 0 || version == offset_key_version) {
        offset_key k;
        k.group_id = r.read_string(false);
        k.partition.topic = r.read_string(false);
        k.partition.partition = r.read_int32();
        out = std::move(k);
    } else if (version == group_key_version) {
        out = group_key{r.read_string(false)};
    } else {
        return std::nullopt;
    }
    if (r.error() || r.remaining() != 0) return std::nullopt;
    return out;
}

std::optional<committed_offset> decode_offset_value(const bytes& data) {
    reader r(data);
    if (r.read_int16() != offset_value_version) return std::nullopt;
    committed_offset v;
    v.offset = r.read_int64();
    v.leader_epoch = r.read_int32();
    v.metadata = r.read_string(false);
    v.commit_timestamp_ms = r.read_int64();
    if (r.error() || r.remaining() != 0) return std::nullopt;
    return v;
}

std::optional<stored_group> decode_group_value(const bytes& data) {
    reader r(data);
    if (r.read_int16() != group_value_version) return std::nullopt;
    stored_group v;
    v.protocol_type = r.read_string(false);
    v.generation = r.read_int32();
    v.protocol = r.read_nullable_string(false);
    v.leader = r.read_nullable_string(false);
    v.state_timestamp_ms = r.read_int64();
    // Each member takes at least 4 strings' lengths, two int32s and two bytes' lengths.
    int32_t n = r.read_array_length(false, false, 24);
    for (int32_t i = 0; i < n && !r.error(); ++i) {
        stored_member m;
        m.member_id = r.read_string(false);
        m.group_instance_id = r.read_nullable_string(false);
        m.client_id = r.read_string(false);
        m.client_host = r.read_string(false);
        m.rebalance_timeout_ms = r.read_int32();
        m.session_timeout_ms = r.read_int32();
        m.subscription = r.read_bytes(false);
        m.assignment = r.read_bytes(false);
        v.members.push_back(std::move(m));
    }
    if (r.error() || r.remaining() != 0) return std::nullopt;
    return v;
}

}  // namespace trib::kafka::groups
