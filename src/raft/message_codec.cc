#include "raft/message_codec.h"

#include <algorithm>

#include "raft/byte_io.h"

namespace trib::raft {
namespace {

constexpr size_t max_entries = 1 << 16;
constexpr size_t max_voters = 1 << 10;

enum flag : uint8_t { flag_transfer = 1, flag_granted = 2, flag_snapshot = 4 };

bool compact_type(msg_type t) {
    return t == msg_type::heartbeat || t == msg_type::heartbeat_response;
}

}  // namespace

void encode_message(group_id group, const message& m, std::vector<uint8_t>& out) {
    writer w(out);
    w.u64(group);
    w.u8(static_cast<uint8_t>(m.type));
    w.i64(m.term);
    if (compact_type(m.type)) {
        w.i64(m.prev_offset);
        w.i64(m.type == msg_type::heartbeat ? m.commit_offset : m.match_offset);
        return;
    }
    uint8_t flags = (m.transfer ? flag_transfer : 0) | (m.granted ? flag_granted : 0) |
                    (m.snap ? flag_snapshot : 0);
    w.u8(flags);
    w.i64(m.last_offset);
    w.i64(m.last_term);
    w.i64(m.prev_offset);
    w.i64(m.prev_term);
    w.i64(m.commit_offset);
    w.i64(m.match_offset);
    w.u32(static_cast<uint32_t>(m.entries.size()));
    for (const entry& e : m.entries) {
        w.bytes(e.batch);
    }
    if (m.snap) {
        w.i64(m.snap->last_offset);
        w.i64(m.snap->last_term);
        w.u32(static_cast<uint32_t>(m.snap->config.voters.size()));
        for (node_id v : m.snap->config.voters) {
            w.i32(v);
        }
        w.bytes(m.snap->data);
    }
}

result<std::vector<addressed_message>> decode_frame(std::span<const uint8_t> frame, node_id from,
                                                    node_id to) {
    auto bad = [] { return unexpected(make_error_code(errc::invalid_batch)); };
    std::vector<addressed_message> out;
    reader r(frame);
    while (!r.done()) {
        addressed_message am;
        am.group = r.u64();
        uint8_t type = r.u8();
        if (!r.ok() || type > static_cast<uint8_t>(msg_type::timeout_now)) {
            return bad();
        }
        message& m = am.msg;
        m.type = static_cast<msg_type>(type);
        m.from = from;
        m.to = to;
        m.term = r.i64();
        if (compact_type(m.type)) {
            m.prev_offset = r.i64();
            (m.type == msg_type::heartbeat ? m.commit_offset : m.match_offset) = r.i64();
        } else {
            uint8_t flags = r.u8();
            m.transfer = (flags & flag_transfer) != 0;
            m.granted = (flags & flag_granted) != 0;
            m.last_offset = r.i64();
            m.last_term = r.i64();
            m.prev_offset = r.i64();
            m.prev_term = r.i64();
            m.commit_offset = r.i64();
            m.match_offset = r.i64();
            uint32_t count = r.u32();
            if (!r.ok() || count > max_entries) {
                return bad();
            }
            for (uint32_t i = 0; i < count; ++i) {
                auto e = entry_from_batch(r.bytes());  // checks the CRC of what arrived
                if (!r.ok() || !e) {
                    return bad();
                }
                if (!m.entries.empty() && (e->base_offset != m.entries.back().last_offset + 1 ||
                                           e->term < m.entries.back().term)) {
                    return bad();
                }
                m.entries.push_back(std::move(*e));
            }
            if ((flags & flag_snapshot) != 0) {
                snapshot s;
                s.last_offset = r.i64();
                s.last_term = r.i64();
                uint32_t voters = r.u32();
                if (!r.ok() || voters > max_voters) {
                    return bad();
                }
                for (uint32_t i = 0; i < voters; ++i) {
                    s.config.voters.push_back(r.i32());
                }
                s.data = r.bytes();
                auto& v = s.config.voters;
                if (!std::is_sorted(v.begin(), v.end()) ||
                    std::adjacent_find(v.begin(), v.end()) != v.end()) {
                    return bad();
                }
                m.snap = std::move(s);
            }
            if (m.type == msg_type::snapshot && !m.snap) {
                return bad();
            }
            // What the state machine asserts of an append, checked here: a peer's bad bytes
            // close its connection instead of stopping this node.
            if (!m.entries.empty() &&
                (m.type != msg_type::append || m.entries.front().base_offset != m.prev_offset + 1 ||
                 m.entries.front().term < m.prev_term || m.entries.back().term > m.term)) {
                return bad();
            }
            for (const entry& e : m.entries) {
                if (e.kind == entry_kind::config && !config_of(e).has_value()) {
                    return bad();
                }
            }
            if (m.prev_term > m.term || m.last_term > m.term || m.prev_offset < -1 ||
                m.last_offset < -1 || m.prev_term < 0 || m.last_term < 0 ||
                (m.snap && (m.snap->last_offset < -1 || m.snap->last_term < 0 ||
                            m.snap->last_term > m.term))) {
                return bad();
            }
        }
        // Terms live in a batch's 32-bit partitionLeaderEpoch.
        if (!r.ok() || m.term < 0 || m.term > INT32_MAX) {
            return bad();
        }
        out.push_back(std::move(am));
    }
    return out;
}

}  // namespace trib::raft
