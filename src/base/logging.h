// Structured logging: one logger per component ("app", "storage", "raft", ...), all writing
// to stderr in text or JSON lines. Messages carry their fields as `key=value` pairs.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include <spdlog/logger.h>

namespace trib::log {

enum class format { text, json };

std::optional<spdlog::level::level_enum> parse_level(std::string_view name);
std::optional<format> parse_format(std::string_view name);

// Installs the sink, level and format for every component logger, existing and future.
void setup(spdlog::level::level_enum level, format fmt);

// Changes the level of every component logger, existing and future, at run time.
void set_level(spdlog::level::level_enum level);
spdlog::level::level_enum level();

// The logger of one component; cheap to call, but callers usually keep the pointer.
std::shared_ptr<spdlog::logger> get(std::string_view component);

}  // namespace trib::log
