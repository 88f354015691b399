#include "cli/output.h"

#include <algorithm>
#include <cctype>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace trib::cli {

std::string table::render() const {
    std::vector<size_t> width(_header.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
            width[i] = std::max(width[i], row[i].size());
        }
    };
    measure(_header);
    for (const auto& row : _rows) {
        measure(row);
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& row, bool upper) {
        std::string text;
        for (size_t i = 0; i < width.size(); ++i) {
            std::string cell = i < row.size() ? row[i] : "";
            if (upper) {
                std::transform(cell.begin(), cell.end(), cell.begin(),
                               [](unsigned char c) { return std::toupper(c); });
            }
            text += i + 1 == width.size() ? cell : fmt::format("{:<{}}  ", cell, width[i]);
        }
        while (!text.empty() && text.back() == ' ') {
            text.pop_back();
        }
        out += text + "\n";
    };
    line(_header, true);
    for (const auto& row : _rows) {
        line(row, false);
    }
    return out;
}

std::string join_ids(const std::vector<int32_t>& ids) {
    return ids.empty() ? "-" : fmt::format("{}", fmt::join(ids, ","));
}

void print_json(const nlohmann::json& doc) {
    fmt::print("{}\n", doc.dump(2));
}

std::string human_bytes(int64_t n) {
    constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (n < 1024) return fmt::format("{} B", n);
    auto v = static_cast<double>(n);
    size_t u = 0;
    while (v >= 1024 && u + 1 < std::size(units)) {
        v /= 1024;
        ++u;
    }
    return fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace trib::cli
