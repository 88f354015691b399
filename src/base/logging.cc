#include "base/logging.h"

#include <chrono>
#include <mutex>
#include <string>

#include <fmt/chrono.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace trib::log {
namespace {

constexpr std::string_view text_pattern = "%Y-%m-%dT%H:%M:%S.%eZ %-5l %n: %v";

void append_json_string(std::string_view s, spdlog::memory_buf_t& out) {
    out.push_back('"');
    for (char c : s) {
        switch (c) {
            case '"':
                out.append(std::string_view("\\\""));
                break;
            case '\\':
                out.append(std::string_view("\\\\"));
                break;
            case '\n':
                out.append(std::string_view("\\n"));
                break;
            case '\r':
                out.append(std::string_view("\\r"));
                break;
            case '\t':
                out.append(std::string_view("\\t"));
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<int>(c));
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

// One JSON object per line: {"ts":"...","level":"info","logger":"app","msg":"..."}.
class json_formatter final : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()) %
            1000;
        fmt::format_to(std::back_inserter(dest), "{{\"ts\":\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\"",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(msg.time)), ms.count());
        auto level = spdlog::level::to_string_view(msg.level);
        fmt::format_to(std::back_inserter(dest), ",\"level\":\"{}\",\"logger\":",
                       std::string_view(level.data(), level.size()));
        append_json_string(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
        dest.append(std::string_view(",\"msg\":"));
        append_json_string(std::string_view(msg.payload.data(), msg.payload.size()), dest);
        dest.append(std::string_view("}\n"));
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<json_formatter>();
    }
};

std::mutex setup_mutex;
spdlog::sink_ptr shared_sink;
spdlog::level::level_enum current_level = spdlog::level::info;

spdlog::sink_ptr sink_locked() {
    if (!shared_sink) {
        shared_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        shared_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
            std::string(text_pattern), spdlog::pattern_time_type::utc));
    }
    return shared_sink;
}

std::shared_ptr<spdlog::logger> get_locked(const std::string& name) {
    if (auto existing = spdlog::get(name)) return existing;
    auto logger = std::make_shared<spdlog::logger>(name, sink_locked());
    logger->set_level(current_level);
    logger->flush_on(spdlog::level::warn);
    spdlog::register_logger(logger);
    return logger;
}

}  // namespace

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
    static constexpr std::pair<std::string_view, spdlog::level::level_enum> levels[] = {
        {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
        {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
        {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
        {"off", spdlog::level::off},
    };
    for (const auto& [text, level] : levels) {
        if (text == name) return level;
    }
    return std::nullopt;
}

std::optional<format> parse_format(std::string_view name) {
    if (name == "text") return format::text;
    if (name == "json") return format::json;
    return std::nullopt;
}

void setup(spdlog::level::level_enum level, format fmt) {
    std::lock_guard lock(setup_mutex);
    auto sink = sink_locked();
    if (fmt == format::json) {
        sink->set_formatter(std::make_unique<json_formatter>());
    } else {
        sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
            std::string(text_pattern), spdlog::pattern_time_type::utc));
    }
    current_level = level;
    spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
    spdlog::set_default_logger(get_locked("tributary"));
}

void set_level(spdlog::level::level_enum level) {
    std::lock_guard lock(setup_mutex);
    current_level = level;
    spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

spdlog::level::level_enum level() {
    std::lock_guard lock(setup_mutex);
    return current_level;
}

std::shared_ptr<spdlog::logger> get(std::string_view component) {
    std::string name(component);
    if (auto existing = spdlog::get(name)) return existing;
    std::lock_guard lock(setup_mutex);
    return get_locked(name);
}

}  // namespace trib::log
