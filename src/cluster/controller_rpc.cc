#include "cluster/controller_rpc.h"

#include <random>

#include <fmt/format.h>

#include "base/byte_io.h"
#include "cluster/core/codec.h"

namespace trib::cluster {

core::topic_id random_topic_id() {
    std::random_device rd;
    core::topic_id id{};
    for (auto& b : id) {
        b = static_cast<uint8_t>(rd());
    }
    id[6] = static_cast<uint8_t>((id[6] & 0x0f) | 0x40);  // UUID version 4
    id[8] = static_cast<uint8_t>((id[8] & 0x3f) | 0x80);
    return id;
}

namespace {

constexpr uint8_t tag_request = 1;
constexpr uint8_t tag_response = 2;
constexpr uint16_t max_errc = static_cast<uint16_t>(errc::no_reassignment);

struct encoder {
    byte_writer& w;
    uint64_t id;
    void operator()(const controller_request& r) const {
        w.u8(tag_request);
        w.u64(id);
        w.u8(static_cast<uint8_t>(r.kind));
        core::put_broker(w, r.broker);
        w.u8(r.shutting_down ? 1 : 0);
        w.str(r.topic);
        w.i32(r.partitions);
        w.i16(r.replication_factor);
        core::put_replicas(w, r.assignment);
        core::put_configs(w, r.configs);
        w.u8(r.validate_only ? 1 : 0);
        w.i32(r.count);
        w.u8(r.keep_topic_id ? 1 : 0);
        if (r.keep_topic_id) w.raw(*r.keep_topic_id);
        w.i64(r.seen_offset);
    }
    void operator()(const controller_response& r) const {
        w.u8(tag_response);
        w.u64(id);
        w.u16(static_cast<uint16_t>(r.code));
        w.str(r.message.substr(0, 4096));
        w.i64(r.offset);
        w.i64(r.first_producer_id);
        w.i32(r.leader);
    }
};

bool get_flag(byte_reader& r) {
    uint8_t v = r.u8();
    if (v > 1) {
        r.fail();
    }
    return v == 1;
}

}  // namespace

std::vector<uint8_t> encode_rpc(uint64_t id, const controller_request& m) {
    std::vector<uint8_t> out;
    byte_writer w(out);
    encoder{w, id}(m);
    return out;
}

std::vector<uint8_t> encode_rpc(uint64_t id, const controller_response& m) {
    std::vector<uint8_t> out;
    byte_writer w(out);
    encoder{w, id}(m);
    return out;
}

namespace {

result<controller_request, std::string> read_request(byte_reader& r) {
    controller_request q;
    uint8_t kind = r.u8();
    if (kind < static_cast<uint8_t>(request_kind::register_broker) ||
        kind > static_cast<uint8_t>(request_kind::recommission_broker)) {
        return unexpected(fmt::format("unknown controller request kind {}", kind));
    }
    q.kind = static_cast<request_kind>(kind);
    q.broker = core::get_broker(r);
    q.shutting_down = get_flag(r);
    q.topic = r.str();
    q.partitions = r.i32();
    q.replication_factor = r.i16();
    q.assignment = core::get_replicas(r);
    q.configs = core::get_configs(r);
    q.validate_only = get_flag(r);
    q.count = r.i32();
    if (get_flag(r)) {
        core::topic_id id{};
        auto b = r.raw(id.size());
        if (r.ok()) std::copy(b.begin(), b.end(), id.begin());
        q.keep_topic_id = id;
    }
    q.seen_offset = r.i64();
    return q;
}

result<controller_response, std::string> read_response(byte_reader& r) {
    controller_response a;
    uint16_t code = r.u16();
    if (code > max_errc) {
        return unexpected(fmt::format("unknown controller error {}", code));
    }
    a.code = static_cast<errc>(code);
    a.message = r.str();
    a.offset = r.i64();
    a.first_producer_id = r.i64();
    a.leader = r.i32();
    return a;
}

}  // namespace

result<decoded_rpc, std::string> decode_rpc(std::span<const uint8_t> payload) {
    byte_reader r(payload);
    uint8_t tag = r.u8();
    uint64_t id = r.u64();
    decoded_rpc d{.id = id};
    if (tag == tag_request) {
        auto q = read_request(r);
        if (!q) {
            return unexpected(q.error());
        }
        d.request = std::move(*q);
    } else if (tag == tag_response) {
        auto a = read_response(r);
        if (!a) {
            return unexpected(a.error());
        }
        d.response = std::move(*a);
    } else {
        return unexpected(fmt::format("unknown controller message tag {}", tag));
    }
    if (!r.ok() || !r.done()) {
        return unexpected(std::string("controller message cut short or malformed"));
    }
    return d;
}

}  // namespace trib::cluster
