// Helpers for storage tests: a temporary directory and batches with known contents.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "model/record_batch.h"

namespace trib::storage::test {

class temp_dir {
  public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "trib-XXXXXX").string();
        _path = ::mkdtemp(tmpl.data());
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return _path; }

  private:
    std::filesystem::path _path;
};

// A batch of `records` records with keys k0.. and values `value`, timestamps first_ts + i.
inline std::vector<uint8_t> make_batch(int records, int64_t first_ts, const std::string& value,
                                       model::compression codec = model::compression::none) {
    std::vector<model::record> rs;
    for (int i = 0; i < records; ++i) {
        model::record r;
        r.timestamp = first_ts + i;
        auto key = "k" + std::to_string(i);
        r.key.emplace(key.begin(), key.end());
        r.value.emplace(value.begin(), value.end());
        rs.push_back(std::move(r));
    }
    model::batch_options o;
    o.codec = codec;
    return model::build_batch(o, rs).value();
}

}  // namespace trib::storage::test
