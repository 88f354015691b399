// What commands print: aligned tables for people, JSON for scripts (--format json).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cli/common.h"

namespace trib::cli {

class table {
  public:
    explicit table(std::vector<std::string> header) : _header(std::move(header)) {}
    void add(std::vector<std::string> row) { _rows.push_back(std::move(row)); }
    bool empty() const { return _rows.empty(); }
    // Columns padded to their widest cell, two spaces apart, header in capitals.
    std::string render() const;

  private:
    std::vector<std::string> _header;
    std::vector<std::vector<std::string>> _rows;
};

// "1,2,3" (or "-" when empty).
std::string join_ids(const std::vector<int32_t>& ids);

// A byte count for people: "812 B", "97.7 KiB", "1.5 GiB".
std::string human_bytes(int64_t n);

// Prints `doc` indented on stdout.
void print_json(const nlohmann::json& doc);

}  // namespace trib::cli
