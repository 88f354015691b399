// Test data kept as hex text (one line per file): golden frames and fuzz seeds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace trib::test {

inline std::vector<uint8_t> read_hex_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::string hex;
    in >> hex;
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

}  // namespace trib::test
