#include "cluster/topic_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "cluster/errc.h"

namespace trib::cluster {

namespace {

error config_error(std::string message) {
    return error{make_error_code(errc::invalid_config), std::move(message)};
}

std::optional<int64_t> parse_long(std::string_view v) {
    int64_t out = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    return out;
}

std::optional<double> parse_ratio(std::string_view v) {
    double out = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size() || out < 0 || out > 1) return std::nullopt;
    return out;
}

// One topic setting: its Kafka name, its default (as text) and how to check a value.
struct setting {
    const char* name;
    value_type type;
    std::string (*default_value)(const topic_defaults&);
    // Empty when valid, else what is wrong.
    std::string (*check)(std::string_view value);
};

std::string check_long_min(std::string_view v, int64_t min) {
    auto n = parse_long(v);
    if (!n || *n < min) return fmt::format("must be an integer >= {}", min);
    return {};
}

std::string check_policy(std::string_view v) {
    if (v == "delete" || v == "compact" || v == "compact,delete" || v == "delete,compact") {
        return {};
    }
    return "must be delete, compact, or compact,delete";
}

const setting settings[] = {
    {"cleanup.policy", value_type::list,
     [](const topic_defaults&) { return std::string("delete"); }, check_policy},
    {"delete.retention.ms", value_type::int64,
     [](const topic_defaults&) { return std::string("86400000"); },
     [](std::string_view v) { return check_long_min(v, 0); }},
    {"flush.messages", value_type::int64,
     [](const topic_defaults&) { return std::to_string(INT64_MAX); },
     [](std::string_view v) { return check_long_min(v, 1); }},
    {"flush.ms", value_type::int64,
     [](const topic_defaults& d) { return std::to_string(d.flush_ms); },
     [](std::string_view v) { return check_long_min(v, 0); }},
    {"max.message.bytes", value_type::int32,
     [](const topic_defaults& d) { return std::to_string(d.max_message_bytes); },
     [](std::string_view v) {
         auto n = parse_long(v);
         if (!n || *n < 0 || *n > (int64_t{1} << 30)) return std::string("must be 0 to 1073741824");
         return std::string();
     }},
    {"message.timestamp.type", value_type::string,
     [](const topic_defaults&) { return std::string("CreateTime"); },
     [](std::string_view v) {
         if (v == "CreateTime" || v == "LogAppendTime") return std::string();
         return std::string("must be CreateTime or LogAppendTime");
     }},
    {"min.cleanable.dirty.ratio", value_type::ratio,
     [](const topic_defaults&) { return std::string("0.5"); },
     [](std::string_view v) {
         return parse_ratio(v) ? std::string() : std::string("must be between 0 and 1");
     }},
    {"retention.bytes", value_type::int64,
     [](const topic_defaults& d) { return std::to_string(d.retention_bytes); },
     [](std::string_view v) { return check_long_min(v, -1); }},
    {"retention.ms", value_type::int64,
     [](const topic_defaults& d) { return std::to_string(d.retention_ms); },
     [](std::string_view v) { return check_long_min(v, -1); }},
    {"segment.bytes", value_type::int32,
     [](const topic_defaults& d) { return std::to_string(d.segment_bytes); },
     [](std::string_view v) {
         auto n = parse_long(v);
         if (!n || *n < 1024 || *n > (int64_t{1} << 30)) {
             return std::string("must be 1024 to 1073741824");
         }
         return std::string();
     }},
    {"segment.ms", value_type::int64,
     [](const topic_defaults&) { return std::string("604800000"); },
     [](std::string_view v) { return check_long_min(v, 1); }},
};

const setting* find_setting(std::string_view name) {
    auto it = std::find_if(std::begin(settings), std::end(settings),
                           [&](const setting& s) { return s.name == name; });
    return it == std::end(settings) ? nullptr : it;
}

std::string value_of(const topic_defaults& d, const config_overrides& o, const setting& s) {
    auto it = o.find(s.name);
    return it != o.end() ? it->second : s.default_value(d);
}

}  // namespace

std::vector<config_entry> describe_config(const topic_defaults& defaults,
                                          const config_overrides& overrides) {
    std::vector<config_entry> out;
    for (const auto& s : settings) {
        out.push_back(
            {s.name, value_of(defaults, overrides, s), !overrides.contains(s.name), s.type});
    }
    return out;
}

std::optional<value_type> type_of(std::string_view name) {
    const auto* s = find_setting(name);
    if (!s) return std::nullopt;
    return s->type;
}

result<void, error> validate_config(std::string_view name, std::string_view value) {
    const auto* s = find_setting(name);
    if (!s) return unexpected(config_error(fmt::format("unknown topic config name: {}", name)));
    if (auto problem = s->check(value); !problem.empty()) {
        return unexpected(
            config_error(fmt::format("invalid value '{}' for {}: {}", value, name, problem)));
    }
    return {};
}

topic_settings effective_settings(const topic_defaults& d, const config_overrides& o) {
    auto get = [&](const char* name) { return value_of(d, o, *find_setting(name)); };
    auto get_long = [&](const char* name) { return parse_long(get(name)).value(); };
    topic_settings t;
    auto& l = t.log;
    auto policy = get("cleanup.policy");
    l.cleanup_delete = policy.find("delete") != std::string::npos;
    l.cleanup_compact = policy.find("compact") != std::string::npos;
    l.delete_retention_ms = get_long("delete.retention.ms");
    l.flush_messages = get_long("flush.messages");
    l.flush_ms = get_long("flush.ms");
    // Our batches carry their 12-byte offset/length prefix; max.message.bytes counts it too.
    l.max_batch_bytes = static_cast<uint32_t>(get_long("max.message.bytes"));
    l.min_cleanable_dirty_ratio = parse_ratio(get("min.cleanable.dirty.ratio")).value();
    l.retention_bytes = get_long("retention.bytes");
    l.retention_ms = get_long("retention.ms");
    l.segment_bytes = static_cast<uint64_t>(get_long("segment.bytes"));
    l.segment_ms = get_long("segment.ms");
    t.log_append_time = get("message.timestamp.type") == "LogAppendTime";
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
