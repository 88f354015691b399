#include "cluster/core/codec.h"

#include <set>

#include <fmt/format.h>

#include "base/byte_io.h"
#include "model/crc32c.h"
#include "model/record_batch.h"

namespace trib::cluster::core {

namespace {

constexpr uint8_t command_version = 1;
constexpr uint32_t image_magic = 0x544d4458;  // "TMDX"
constexpr uint16_t image_version = 3;      // 3: partitions moving; 2: Raft group ids (1 had none)
constexpr size_t image_header_bytes = 14;  // magic, version, crc, body length

// Command types on the wire: the variant's index is not used, so reordering the variant
// cannot change the format.
enum class command_type : uint8_t {
    init_cluster = 1,
    register_broker = 2,
    fence_broker = 3,
    unfence_broker = 4,
    create_topic = 5,
    delete_topic = 6,
    create_partitions = 7,
    set_topic_configs = 8,
    allocate_producer_ids = 9,
    reassign_partition = 10,
    finish_reassignment = 11,
    drain_broker = 12,
};

void put_address(byte_writer& w, const host_port& a) {
    w.str(a.host);
    w.u16(a.port);
}
host_port get_address(byte_reader& r) {
    host_port a;
    a.host = r.str();
    a.port = r.u16();
    return a;
}

}  // namespace

void put_broker(byte_writer& w, const broker& b) {
    w.i32(b.id);
    put_address(w, b.kafka);
    put_address(w, b.rpc);
    w.u8(b.rack ? 1 : 0);
    if (b.rack) {
        w.str(*b.rack);
    }
    w.u64(b.incarnation);
    w.u64(b.dir_id);
}
broker get_broker(byte_reader& r) {
    broker b;
    b.id = r.i32();
    b.kafka = get_address(r);
    b.rpc = get_address(r);
    uint8_t has_rack = r.u8();
    if (has_rack > 1) {
        r.fail();
    } else if (has_rack == 1) {
        b.rack = r.str();
    }
    b.incarnation = r.u64();
    b.dir_id = r.u64();
    return b;
}

namespace {

void put_id(byte_writer& w, const topic_id& id) {
    w.raw(id);
}
topic_id get_id(byte_reader& r) {
    topic_id id{};
    auto b = r.raw(id.size());
    if (r.ok()) {
        std::copy(b.begin(), b.end(), id.begin());
    }
    return id;
}

// A count read from the input is believed only as far as the input could hold that many
// elements of at least `min_bytes` each: a corrupt count cannot make us allocate.
uint32_t get_count(byte_reader& r, size_t min_bytes) {
    uint32_t n = r.u32();
    if (static_cast<uint64_t>(n) * min_bytes > r.remaining()) {
        r.fail();
        return 0;
    }
    return n;
}

}  // namespace

void put_configs(byte_writer& w, const std::map<std::string, std::string>& configs) {
    w.u32(static_cast<uint32_t>(configs.size()));
    for (const auto& [k, v] : configs) {
        w.str(k);
        w.str(v);
    }
}
std::map<std::string, std::string> get_configs(byte_reader& r) {
    std::map<std::string, std::string> configs;
    uint32_t n = get_count(r, 4);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        std::string k = r.str();
        configs[k] = r.str();
    }
    return configs;
}

void put_replicas(byte_writer& w, const std::vector<replica_list>& partitions) {
    w.u32(static_cast<uint32_t>(partitions.size()));
    for (const auto& replicas : partitions) {
        w.u16(static_cast<uint16_t>(replicas.size()));
        for (node_id id : replicas) {
            w.i32(id);
        }
    }
}
std::vector<replica_list> get_replicas(byte_reader& r) {
    std::vector<replica_list> partitions;
    uint32_t n = get_count(r, 2);
    partitions.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        uint16_t count = r.u16();
        if (static_cast<size_t>(count) * 4 > r.remaining()) {
            r.fail();
            break;
        }
        replica_list replicas(count);
        for (auto& id : replicas) {
            id = r.i32();
        }
        partitions.push_back(std::move(replicas));
    }
    return partitions;
}

namespace {

void put_topic(byte_writer& w, const topic& t) {
    put_id(w, t.id);
    w.str(t.name);
    put_configs(w, t.configs);
    put_replicas(w, t.partitions);
}
topic get_topic(byte_reader& r) {
    topic t;
    t.id = get_id(r);
    t.name = r.str();
    t.configs = get_configs(r);
    t.partitions = get_replicas(r);
    return t;
}

struct encoder {
    byte_writer& w;
    void operator()(const init_cluster& c) const {
        w.u8(static_cast<uint8_t>(command_type::init_cluster));
        w.str(c.cluster_id);
    }
    void operator()(const register_broker& c) const {
        w.u8(static_cast<uint8_t>(command_type::register_broker));
        put_broker(w, c.info);
    }
    void operator()(const fence_broker& c) const {
        w.u8(static_cast<uint8_t>(command_type::fence_broker));
        w.i32(c.id);
        w.u64(c.incarnation);
    }
    void operator()(const unfence_broker& c) const {
        w.u8(static_cast<uint8_t>(command_type::unfence_broker));
        w.i32(c.id);
        w.u64(c.incarnation);
    }
    void operator()(const create_topic& c) const {
        w.u8(static_cast<uint8_t>(command_type::create_topic));
        put_topic(w, c.t);
    }
    void operator()(const delete_topic& c) const {
        w.u8(static_cast<uint8_t>(command_type::delete_topic));
        put_id(w, c.id);
    }
    void operator()(const create_partitions& c) const {
        w.u8(static_cast<uint8_t>(command_type::create_partitions));
        put_id(w, c.id);
        put_replicas(w, c.added);
    }
    void operator()(const set_topic_configs& c) const {
        w.u8(static_cast<uint8_t>(command_type::set_topic_configs));
        put_id(w, c.id);
        put_configs(w, c.configs);
    }
    void operator()(const reassign_partition& c) const {
        w.u8(static_cast<uint8_t>(command_type::reassign_partition));
        put_move(c);
    }
    void operator()(const finish_reassignment& c) const {
        w.u8(static_cast<uint8_t>(command_type::finish_reassignment));
        put_move(c);
    }
    void operator()(const drain_broker& c) const {
        w.u8(static_cast<uint8_t>(command_type::drain_broker));
        w.i32(c.id);
        w.u8(c.on ? 1 : 0);
    }
    template <typename Move>
    void put_move(const Move& c) const {
        put_id(w, c.id);
        w.i32(c.partition);
        put_replicas(w, {c.target});
    }
    void operator()(const allocate_producer_ids& c) const {
        w.u8(static_cast<uint8_t>(command_type::allocate_producer_ids));
        w.i32(c.broker);
        w.i32(c.count);
    }
};

template <typename Move>
Move get_move(byte_reader& r) {
    Move c;
    c.id = get_id(r);
    c.partition = r.i32();
    auto lists = get_replicas(r);
    if (lists.size() != 1) {
        r.fail();
    } else {
        c.target = std::move(lists.front());
    }
    return c;
}

result<command, std::string> read_command(byte_reader& r) {
    command cmd;
    auto type = static_cast<command_type>(r.u8());
    switch (type) {
        case command_type::init_cluster:
            cmd = init_cluster{r.str()};
            break;
        case command_type::register_broker:
            cmd = register_broker{get_broker(r)};
            break;
        case command_type::fence_broker: {
            fence_broker c;
            c.id = r.i32();
            c.incarnation = r.u64();
            cmd = c;
            break;
        }
        case command_type::unfence_broker: {
            unfence_broker c;
            c.id = r.i32();
            c.incarnation = r.u64();
            cmd = c;
            break;
        }
        case command_type::create_topic:
            cmd = create_topic{get_topic(r)};
            break;
        case command_type::delete_topic:
            cmd = delete_topic{get_id(r)};
            break;
        case command_type::create_partitions: {
            create_partitions c;
            c.id = get_id(r);
            c.added = get_replicas(r);
            cmd = std::move(c);
            break;
        }
        case command_type::set_topic_configs: {
            set_topic_configs c;
            c.id = get_id(r);
            c.configs = get_configs(r);
            cmd = std::move(c);
            break;
        }
        case command_type::reassign_partition:
            cmd = get_move<reassign_partition>(r);
            break;
        case command_type::finish_reassignment:
            cmd = get_move<finish_reassignment>(r);
            break;
        case command_type::drain_broker: {
            drain_broker c;
            c.id = r.i32();
            uint8_t on = r.u8();
            if (on > 1) r.fail();
            c.on = on == 1;
            cmd = c;
            break;
        }
        case command_type::allocate_producer_ids: {
            allocate_producer_ids c;
            c.broker = r.i32();
            c.count = r.i32();
            cmd = c;
            break;
        }
        default:
            return unexpected(fmt::format("unknown command type {}", static_cast<int>(type)));
    }
    if (!r.ok()) {
        return unexpected(std::string("command cut short or malformed"));
    }
    return cmd;
}

}  // namespace

std::vector<uint8_t> encode_command(const command& cmd) {
    std::vector<uint8_t> out;
    byte_writer w(out);
    w.u8(command_version);
    std::visit(encoder{w}, cmd);
    return out;
}

result<command, std::string> decode_command(std::span<const uint8_t> bytes) {
    byte_reader r(bytes);
    uint8_t version = r.u8();
    if (!r.ok() || version != command_version) {
        return unexpected(fmt::format("unknown command version {}", version));
    }
    auto cmd = read_command(r);
    if (cmd && !r.done()) {
        return unexpected(fmt::format("{} bytes after the command", r.remaining()));
    }
    return cmd;
}

std::vector<uint8_t> command_batch(const command& cmd, int64_t now_ms) {
    model::record rec;
    rec.timestamp = now_ms;
    rec.value = encode_command(cmd);
    auto batch = model::build_batch({}, std::span<const model::record>(&rec, 1));
    TRIB_ASSERT_MSG(batch.has_value(), "building a controller batch failed");
    return std::move(*batch);
}

result<std::vector<command>, std::string> commands_of_batch(std::span<const uint8_t> batch) {
    std::vector<command> commands;
    std::string failure;
    auto walked = model::for_each_record(batch, 64 << 20, [&](const model::record_view& rec) {
        if (!failure.empty()) {
            return;
        }
        if (!rec.value) {
            failure = "a record without a value";
            return;
        }
        auto cmd = decode_command(*rec.value);
        if (!cmd) {
            failure = cmd.error();
            return;
        }
        commands.push_back(std::move(*cmd));
    });
    if (!walked) {
        return unexpected(fmt::format("unreadable batch: {}", walked.error().message()));
    }
    if (!failure.empty()) {
        return unexpected(std::move(failure));
    }
    return commands;
}

std::vector<uint8_t> encode_image(const image& img) {
    return encode_image_version(img, image_version);
}

std::vector<uint8_t> encode_image_version(const image& img, uint16_t version) {
    std::vector<uint8_t> body;
    byte_writer w(body);
    w.i64(img.applied_offset);
    w.str(img.cluster_id);
    w.i64(img.next_producer_id);
    w.u32(static_cast<uint32_t>(img.brokers.size()));
    for (const auto& [id, b] : img.brokers) {
        put_broker(w, b);
        w.u8(b.fenced ? 1 : 0);
    }
    w.u32(static_cast<uint32_t>(img.topics.size()));
    for (const auto& [name, t] : img.topics) {
        put_topic(w, t);
        for (uint64_t g : version > 1 ? t.groups : std::vector<uint64_t>{}) {
            w.u64(g);
        }
        if (version > 2) {
            w.u32(static_cast<uint32_t>(t.moving.size()));
            for (const auto& [partition, target] : t.moving) {
                w.i32(partition);
                put_replicas(w, {target});
            }
        }
    }
    if (version > 1) {
        w.u64(img.next_group_id);
    }
    if (version > 2) {
        w.u32(static_cast<uint32_t>(img.draining.size()));
        for (node_id id : img.draining) {
            w.i32(id);
        }
    }
    std::vector<uint8_t> out;
    byte_writer h(out);
    h.u32(image_magic);
    h.u16(version);
    h.u32(model::crc32c(body));
    h.u32(static_cast<uint32_t>(body.size()));
    h.raw(body);
    return out;
}

result<image, std::string> decode_image(std::span<const uint8_t> bytes) {
    if (bytes.size() < image_header_bytes) {
        return unexpected(
            fmt::format("snapshot of {} bytes is shorter than its header", bytes.size()));
    }
    byte_reader h(bytes);
    if (h.u32() != image_magic) {
        return unexpected(std::string("not a controller snapshot (bad magic)"));
    }
    uint16_t version = h.u16();
    if (version < 1 || version > image_version) {
        return unexpected(fmt::format("unknown snapshot version {}", version));
    }
    uint32_t crc = h.u32();
    uint32_t length = h.u32();
    if (length != h.remaining()) {
        return unexpected(
            fmt::format("snapshot body is {} bytes, its header says {}", h.remaining(), length));
    }
    auto body = bytes.subspan(image_header_bytes);
    if (model::crc32c(body) != crc) {
        return unexpected(std::string("snapshot checksum mismatch"));
    }
    byte_reader r(body);
    image img;
    img.applied_offset = r.i64();
    img.cluster_id = r.str();
    img.next_producer_id = r.i64();
    uint32_t brokers = get_count(r, 28);
    for (uint32_t i = 0; i < brokers && r.ok(); ++i) {
        broker b = get_broker(r);
        uint8_t fenced = r.u8();
        if (fenced > 1 || img.brokers.contains(b.id)) {
            r.fail();
        }
        b.fenced = fenced == 1;
        img.brokers[b.id] = std::move(b);
    }
    uint32_t topics = get_count(r, 26);
    std::set<uint64_t> groups_seen;
    for (uint32_t i = 0; i < topics && r.ok(); ++i) {
        topic t = get_topic(r);
        if (img.topics.contains(t.name)) {
            r.fail();
        }
        for (size_t p = 0; version > 1 && p < t.partitions.size() && r.ok(); ++p) {
            uint64_t g = r.u64();
            if (g == 0 || !groups_seen.insert(g).second) {
                r.fail();  // group 0 is the controller's; no two partitions share one
            }
            t.groups.push_back(g);
        }
        uint32_t moves = version > 2 ? get_count(r, 8) : 0;
        for (uint32_t m = 0; m < moves && r.ok(); ++m) {
            auto partition = r.i32();
            auto lists = get_replicas(r);
            if (partition < 0 || static_cast<size_t>(partition) >= t.partitions.size() ||
                lists.size() != 1 || lists.front().empty() || t.moving.contains(partition)) {
                r.fail();
                break;
            }
            t.moving[partition] = std::move(lists.front());
        }
        img.topics.emplace(t.name, std::move(t));
    }
    if (version > 1) {
        img.next_group_id = r.u64();
        if (!groups_seen.empty() && *groups_seen.rbegin() >= img.next_group_id) {
            r.fail();
        }
    } else {
        // Version 1 (before replication) numbered no groups: number them in name order.
        for (auto& [name, t] : img.topics) {
            for (size_t p = 0; p < t.partitions.size(); ++p) {
                t.groups.push_back(img.next_group_id++);
            }
        }
    }
    uint32_t draining = version > 2 ? get_count(r, 4) : 0;
    for (uint32_t i = 0; i < draining && r.ok(); ++i) {
        node_id id = r.i32();
        if (!img.brokers.contains(id) || !img.draining.insert(id).second) {
            r.fail();
        }
    }
    if (!r.ok() || !r.done()) {
        return unexpected(std::string("snapshot body malformed"));
    }
    return img;
}

}  // namespace trib::cluster::core
