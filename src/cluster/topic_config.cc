#include "cluster/topic_config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <span>

#include <fmt/format.h>

#include "cluster/errc.h"

namespace trib::cluster {

namespace {

error config_error(std::string message) {
    return error{make_error_code(errc::invalid_config), std::move(message)};
}

// Java's String.trim, as Kafka's ConfigDef applies it to every value.
std::string_view trim(std::string_view v) {
    auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
    while (!v.empty() && blank(v.front()))
        v.remove_prefix(1);
    while (!v.empty() && blank(v.back()))
        v.remove_suffix(1);
    return v;
}

std::optional<int64_t> parse_long(std::string_view v) {
    if (v.size() > 1 && v.front() == '+' && v[1] != '-') v.remove_prefix(1);  // Long.parseLong
    int64_t out = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    return out;
}

std::optional<double> parse_double(std::string_view v) {
    double out = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size() || std::isnan(out)) return std::nullopt;
    return out;
}

std::vector<std::string> split_list(std::string_view v) {
    std::vector<std::string> items;
    if (v.empty()) return items;
    for (size_t start = 0;;) {
        auto comma = v.find(',', start);
        items.emplace_back(trim(v.substr(start, comma - start)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return items;
}

// How a value is checked once parsed (Kafka's validators).
enum class rule {
    none,
    at_least,
    between,
    one_of,
    list_of,
    throttled,
    gzip_level,
    version,
    must_be_false
};

constexpr std::array<std::string_view, 2> policies{"compact", "delete"};
constexpr std::array<std::string_view, 6> codecs{"uncompressed", "zstd", "lz4",
                                                 "snappy",       "gzip", "producer"};
constexpr std::array<std::string_view, 2> timestamp_types{"CreateTime", "LogAppendTime"};

struct setting {
    std::string_view name;
    value_type type;
    const char* fixed_default;                              // or, when null:
    std::string (*derived_default)(const topic_defaults&);  // from the broker configuration
    rule check;
    int64_t lo = 0;
    int64_t hi = 0;
    std::span<const std::string_view> choices = {};
    const char* documentation = "";
};

// A setting Kafka has that means nothing here: said so in its documentation.
#define TRIB_INERT(meaning, why) meaning " Accepted and validated; no effect in Tributary: " why

// In name order, as DescribeConfigs lists them.
const setting settings[] = {
    {"cleanup.policy", value_type::list, "delete", nullptr, rule::list_of, 0, 0, policies,
     "delete (by retention), compact (keep each key's newest record), or both."},
    {"compression.gzip.level",
     value_type::int32,
     "-1",
     nullptr,
     rule::gzip_level,
     0,
     0,
     {},
     TRIB_INERT("The gzip level when the broker compresses.", "the codec's default level.")},
    {"compression.lz4.level",
     value_type::int32,
     "9",
     nullptr,
     rule::between,
     1,
     17,
     {},
     TRIB_INERT("The lz4 level when the broker compresses.", "the codec's default level.")},
    {"compression.type", value_type::string, "producer", nullptr, rule::one_of, 0, 0, codecs,
     "The codec batches are stored in; batches in another one are recompressed on "
     "produce. producer keeps the producer's codec."},
    {"compression.zstd.level",
     value_type::int32,
     "3",
     nullptr,
     rule::between,
     -131072,
     22,
     {},
     TRIB_INERT("The zstd level when the broker compresses.", "the codec's default level.")},
    {"delete.retention.ms",
     value_type::int64,
     "86400000",
     nullptr,
     rule::at_least,
     0,
     0,
     {},
     "How long compaction keeps tombstones."},
    {"file.delete.delay.ms",
     value_type::int64,
     "60000",
     nullptr,
     rule::at_least,
     0,
     0,
     {},
     TRIB_INERT("The delay before a deleted segment's files go.", "files go at once.")},
    {"flush.messages",
     value_type::int64,
     "9223372036854775807",
     nullptr,
     rule::at_least,
     1,
     0,
     {},
     TRIB_INERT("fsync once this many messages are unflushed.",
                "every write is fsynced as its partition's Raft group writes it (group commit).")},
    {"flush.ms",
     value_type::int64,
     nullptr,
     [](const topic_defaults& d) { return std::to_string(d.flush_ms); },
     rule::at_least,
     0,
     0,
     {},
     TRIB_INERT("fsync once the oldest unflushed append is this old.",
                "every write is fsynced as its partition's Raft group writes it (group commit).")},
    {"follower.replication.throttled.replicas",
     value_type::list,
     "",
     nullptr,
     rule::throttled,
     0,
     0,
     {},
     TRIB_INERT("Replicas throttled as followers.", "replication is not throttled.")},
    {"index.interval.bytes",
     value_type::int32,
     "4096",
     nullptr,
     rule::at_least,
     0,
     0,
     {},
     "Bytes between entries of the offset index."},
    {"leader.replication.throttled.replicas",
     value_type::list,
     "",
     nullptr,
     rule::throttled,
     0,
     0,
     {},
     TRIB_INERT("Replicas throttled as leaders.", "replication is not throttled.")},
    {"local.retention.bytes",
     value_type::int64,
     "-2",
     nullptr,
     rule::at_least,
     -2,
     0,
     {},
     TRIB_INERT("Local retention with tiered storage.", "there is no tiered storage.")},
    {"local.retention.ms",
     value_type::int64,
     "-2",
     nullptr,
     rule::at_least,
     -2,
     0,
     {},
     TRIB_INERT("Local retention with tiered storage.", "there is no tiered storage.")},
    {"max.compaction.lag.ms",
     value_type::int64,
     "9223372036854775807",
     nullptr,
     rule::at_least,
     1,
     0,
     {},
     "The longest a record stays uncompacted: the active segment rolls and the log is "
     "compacted by then, whatever its dirty ratio."},
    {"max.message.bytes",
     value_type::int32,
     nullptr,
     [](const topic_defaults& d) { return std::to_string(d.max_message_bytes); },
     rule::at_least,
     0,
     0,
     {},
     "The largest record batch accepted (after compression)."},
    {"message.downconversion.enable",
     value_type::boolean,
     "true",
     nullptr,
     rule::none,
     0,
     0,
     {},
     TRIB_INERT("Down-conversion for old consumers.", "Fetch below v4 is not served.")},
    {"message.format.version",
     value_type::string,
     "3.0-IV1",
     nullptr,
     rule::version,
     0,
     0,
     {},
     TRIB_INERT("Deprecated: the on-disk format.", "batches are always stored as magic 2.")},
    {"message.timestamp.after.max.ms",
     value_type::int64,
     "9223372036854775807",
     nullptr,
     rule::at_least,
     0,
     0,
     {},
     "How far a CreateTime timestamp may lie after the broker's clock "
     "(INVALID_TIMESTAMP beyond)."},
    {"message.timestamp.before.max.ms",
     value_type::int64,
     "9223372036854775807",
     nullptr,
     rule::at_least,
     0,
     0,
     {},
     "How far a CreateTime timestamp may lie before the broker's clock "
     "(INVALID_TIMESTAMP beyond)."},
    {"message.timestamp.difference.max.ms",
     value_type::int64,
     "9223372036854775807",
     nullptr,
     rule::at_least,
     0,
     0,
     {},
     "Deprecated: both bounds at once, where before/after.max.ms are not set."},
    {"message.timestamp.type", value_type::string, "CreateTime", nullptr, rule::one_of, 0, 0,
     timestamp_types,
     "CreateTime keeps the producer's timestamps; LogAppendTime "
     "stamps batches with the broker's clock."},
    {"min.cleanable.dirty.ratio",
     value_type::ratio,
     "0.5",
     nullptr,
     rule::between,
     0,
     1,
     {},
     "The share of uncompacted bytes at which compaction runs."},
    {"min.compaction.lag.ms",
     value_type::int64,
     "0",
     nullptr,
     rule::at_least,
     0,
     0,
     {},
     "The shortest a record stays uncompacted."},
    {"min.insync.replicas",
     value_type::int32,
     "1",
     nullptr,
     rule::at_least,
     1,
     0,
     {},
     "Replicas that must have an acks=all write (NOT_ENOUGH_REPLICAS with fewer)."},
    {"preallocate",
     value_type::boolean,
     "false",
     nullptr,
     rule::none,
     0,
     0,
     {},
     TRIB_INERT("Preallocate segment files.", "segments grow as written.")},
    {"remote.log.copy.disable",
     value_type::boolean,
     "false",
     nullptr,
     rule::none,
     0,
     0,
     {},
     TRIB_INERT("Tiered storage copying.", "there is no tiered storage.")},
    {"remote.log.delete.on.disable",
     value_type::boolean,
     "false",
     nullptr,
     rule::none,
     0,
     0,
     {},
     TRIB_INERT("Tiered storage deletion.", "there is no tiered storage.")},
    {"remote.storage.enable",
     value_type::boolean,
     "false",
     nullptr,
     rule::must_be_false,
     0,
     0,
     {},
     "Tiered storage: not available (only false is accepted)."},
    {"retention.bytes",
     value_type::int64,
     nullptr,
     [](const topic_defaults& d) { return std::to_string(d.retention_bytes); },
     rule::none,
     0,
     0,
     {},
     "Bytes kept per partition by the delete policy; -1: no limit."},
    {"retention.ms",
     value_type::int64,
     nullptr,
     [](const topic_defaults& d) { return std::to_string(d.retention_ms); },
     rule::at_least,
     -1,
     0,
     {},
     "How long the delete policy keeps records; -1: forever."},
    {"segment.bytes",
     value_type::int32,
     nullptr,
     [](const topic_defaults& d) { return std::to_string(d.segment_bytes); },
     rule::at_least,
     14,
     0,
     {},
     "The size at which a segment rolls."},
    {"segment.index.bytes",
     value_type::int32,
     "10485760",
     nullptr,
     rule::at_least,
     4,
     0,
     {},
     TRIB_INERT("The preallocated index size.", "indexes grow as written.")},
    {"segment.jitter.ms",
     value_type::int64,
     "0",
     nullptr,
     rule::at_least,
     0,
     0,
     {},
     TRIB_INERT("Random jitter on segment.ms.", "segments roll at segment.ms.")},
    {"segment.ms",
     value_type::int64,
     "604800000",
     nullptr,
     rule::at_least,
     1,
     0,
     {},
     "The age at which the active segment rolls."},
    {"unclean.leader.election.enable",
     value_type::boolean,
     "false",
     nullptr,
     rule::none,
     0,
     0,
     {},
     TRIB_INERT("Let a replica without every write lead.",
                "a leader always has every acknowledged write.")},
};

#undef TRIB_INERT

const setting* find_setting(std::string_view name) {
    auto it = std::find_if(std::begin(settings), std::end(settings),
                           [&](const setting& s) { return s.name == name; });
    return it == std::end(settings) ? nullptr : it;
}

const char* type_name(value_type t) {
    switch (t) {
        case value_type::int32:
            return "INT";
        case value_type::int64:
            return "LONG";
        case value_type::ratio:
            return "DOUBLE";
        default:
            return "STRING";
    }
}

std::string one_of_text(std::span<const std::string_view> choices) {
    return fmt::format("String must be one of: {}", fmt::join(choices, ", "));
}

bool all_digits(std::string_view d) {
    return !d.empty() &&
           std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool throttled_item(std::string_view item) {
    if (item.empty()) return true;
    auto colon = item.find(':');
    return colon != std::string_view::npos && all_digits(item.substr(0, colon)) &&
           all_digits(item.substr(colon + 1));
}

// MetadataVersion's strings: 0.8.0 ... 0.11.0 and 1.0 ... 3.9, each optionally with -IVn.
bool message_format_version(std::string_view v) {
    if (auto dash = v.find("-IV"); dash != std::string_view::npos) {
        if (!all_digits(v.substr(dash + 3))) return false;
        v = v.substr(0, dash);
    }
    std::vector<int64_t> numbers;
    for (size_t start = 0;;) {
        auto dot = v.find('.', start);
        auto part = v.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (!all_digits(part)) return false;
        numbers.push_back(parse_long(part).value_or(-1));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (numbers.size() > 3) return false;
    if (numbers[0] == 0) return numbers.size() == 3 && numbers[1] >= 8 && numbers[1] <= 11;
    return numbers.size() >= 2 && numbers[0] <= 3 && numbers[1] <= 9;
}

// Parses and checks `raw` for `s`; the normalised value, or what is wrong (Kafka's words).
result<std::string, std::string> check_value(const setting& s, std::string_view raw) {
    std::string_view v = trim(raw);
    auto bad = [&](std::string why) {
        return unexpected(fmt::format("Invalid value {} for configuration {}: {}", v, s.name, why));
    };
    std::string text(v);
    std::optional<double> number;
    switch (s.type) {
        case value_type::boolean: {
            std::string lower = text;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (lower != "true" && lower != "false") {
                return bad("Expected value to be either true or false");
            }
            if (s.check == rule::must_be_false && lower == "true") {
                return bad(
                    "Tiered Storage functionality is disabled in the broker. Topic cannot "
                    "be configured with remote log storage.");
            }
            return lower;
        }
        case value_type::int32:
        case value_type::int64: {
            auto n = parse_long(v);
            bool in_range =
                n && (s.type == value_type::int64 || (*n >= INT32_MIN && *n <= INT32_MAX));
            if (!in_range) return bad(fmt::format("Not a number of type {}", type_name(s.type)));
            text = std::to_string(*n);
            number = static_cast<double>(*n);
            if (s.check == rule::gzip_level && *n != -1 && (*n < 1 || *n > 9)) {
                return bad("Value must be between 1 and 9, or -1");
            }
            break;
        }
        case value_type::ratio:
            number = parse_double(v);
            if (!number) return bad("Not a number of type DOUBLE");
            break;
        case value_type::list: {
            auto items = split_list(v);
            for (const auto& item : items) {
                if (s.check == rule::list_of &&
                    std::find(s.choices.begin(), s.choices.end(), item) == s.choices.end()) {
                    return unexpected(fmt::format("Invalid value {} for configuration {}: {}", item,
                                                  s.name, one_of_text(s.choices)));
                }
                if (s.check == rule::throttled && !throttled_item(item) && v != "*") {
                    return bad(
                        fmt::format("{} must be the literal '*' or a list of replicas in the "
                                    "following format: [partitionId]:[brokerId],...",
                                    s.name));
                }
            }
            return fmt::format("{}", fmt::join(items, ","));
        }
        case value_type::string:
            if (s.check == rule::one_of &&
                std::find(s.choices.begin(), s.choices.end(), v) == s.choices.end()) {
                return bad(one_of_text(s.choices));
            }
            if (s.check == rule::version && !message_format_version(v)) {
                return bad(fmt::format("Version {} is not a valid version", v));
            }
            return text;
    }
    if ((s.check == rule::at_least || s.check == rule::between) &&
        *number < static_cast<double>(s.lo)) {
        return bad(fmt::format("Value must be at least {}", s.lo));
    }
    if (s.check == rule::between && *number > static_cast<double>(s.hi)) {
        return bad(fmt::format("Value must be no more than {}", s.hi));
    }
    return text;
}

std::string value_of(const topic_defaults& d, const config_overrides& o, const setting& s) {
    auto it = o.find(std::string(s.name));
    if (it != o.end()) return it->second;
    return s.fixed_default ? std::string(s.fixed_default) : s.derived_default(d);
}

}  // namespace

std::vector<config_entry> describe_config(const topic_defaults& defaults,
                                          const config_overrides& overrides) {
    std::vector<config_entry> out;
    for (const auto& s : settings) {
        out.push_back({std::string(s.name), value_of(defaults, overrides, s),
                       !overrides.contains(std::string(s.name)), s.type, s.documentation});
    }
    return out;
}

std::optional<value_type> type_of(std::string_view name) {
    const auto* s = find_setting(name);
    if (!s) return std::nullopt;
    return s->type;
}

result<std::string, error> validate_config(std::string_view name, std::string_view value) {
    const auto* s = find_setting(name);
    if (!s) return unexpected(config_error(fmt::format("Unknown topic config name: {}", name)));
    auto checked = check_value(*s, value);
    if (!checked) return unexpected(config_error(checked.error()));
    return std::move(*checked);
}

result<config_overrides, error> validate_configs(const config_overrides& overrides) {
    config_overrides out;
    for (const auto& [name, value] : overrides) {
        out[name] = TRIB_TRY(validate_config(name, value));
    }
    auto lag = [&](const char* name) {
        return parse_long(value_of({}, out, *find_setting(name))).value();
    };
    int64_t min_lag = lag("min.compaction.lag.ms");
    int64_t max_lag = lag("max.compaction.lag.ms");
    if (min_lag > max_lag) {
        return unexpected(
            config_error(fmt::format("conflict topic config setting min.compaction.lag.ms ({}) > "
                                     "max.compaction.lag.ms ({})",
                                     min_lag, max_lag)));
    }
    return out;
}

topic_settings effective_settings(const topic_defaults& d, const config_overrides& o) {
    auto get = [&](const char* name) { return value_of(d, o, *find_setting(name)); };
    auto get_long = [&](const char* name) { return parse_long(get(name)).value(); };
    topic_settings t;
    auto& l = t.log;
    auto policy = split_list(get("cleanup.policy"));
    l.cleanup_delete = std::find(policy.begin(), policy.end(), "delete") != policy.end();
    l.cleanup_compact = std::find(policy.begin(), policy.end(), "compact") != policy.end();
    l.delete_retention_ms = get_long("delete.retention.ms");
    l.flush_messages = get_long("flush.messages");
    l.flush_ms = get_long("flush.ms");
    l.index_interval_bytes = static_cast<uint32_t>(get_long("index.interval.bytes"));
    // Our batches carry their 12-byte offset/length prefix; max.message.bytes counts it too.
    l.max_batch_bytes = static_cast<uint32_t>(get_long("max.message.bytes"));
    l.min_cleanable_dirty_ratio = parse_double(get("min.cleanable.dirty.ratio")).value();
    l.min_compaction_lag_ms = get_long("min.compaction.lag.ms");
    l.max_compaction_lag_ms = get_long("max.compaction.lag.ms");
    l.retention_bytes = get_long("retention.bytes");
    l.retention_ms = get_long("retention.ms");
    l.segment_bytes = static_cast<uint64_t>(get_long("segment.bytes"));
    l.segment_ms = get_long("segment.ms");
    // A compacted topic's active segment rolls by max.compaction.lag.ms, so its records can
    // be compacted in time (Kafka's maxSegmentMs).
    if (l.cleanup_compact) l.segment_ms = std::min(l.segment_ms, l.max_compaction_lag_ms);
    t.log_append_time = get("message.timestamp.type") == "LogAppendTime";
    auto codec = get("compression.type");
    if (codec == "uncompressed") t.compression = model::compression::none;
    if (codec == "gzip") t.compression = model::compression::gzip;
    if (codec == "snappy") t.compression = model::compression::snappy;
    if (codec == "lz4") t.compression = model::compression::lz4;
    if (codec == "zstd") t.compression = model::compression::zstd;
    // KIP-937: before/after fall back to the older difference setting while unset.
    int64_t difference = get_long("message.timestamp.difference.max.ms");
    t.timestamp_before_max_ms = get_long("message.timestamp.before.max.ms");
    t.timestamp_after_max_ms = get_long("message.timestamp.after.max.ms");
    if (t.timestamp_before_max_ms == INT64_MAX) t.timestamp_before_max_ms = difference;
    if (t.timestamp_after_max_ms == INT64_MAX) t.timestamp_after_max_ms = difference;
    t.min_insync_replicas = static_cast<int32_t>(get_long("min.insync.replicas"));
    return t;
}

result<void, error> validate_topic_name(std::string_view name) {
    auto bad = [&](std::string why) {
        return unexpected(error{make_error_code(errc::invalid_topic_name),
                                fmt::format("invalid topic name '{}': {}", name, why)});
    };
    if (name.empty()) return bad("it is empty");
    if (name.size() > 249) return bad("longer than 249 characters");
    if (name == "." || name == "..") return bad("'.' and '..' are not allowed");
    for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
            return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
        }
    }
    return {};
}

}  // namespace trib::cluster
