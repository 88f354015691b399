#include "cluster/producer_ids.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include "storage/file.h"

namespace trib::cluster {

result<std::unique_ptr<producer_id_allocator>, error> producer_id_allocator::open(
    const std::filesystem::path& data_dir) {
    auto file = data_dir / "producer_ids";
    int64_t next = 0;
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) {
        std::ifstream in(file);
        std::stringstream text;
        text << in.rdbuf();
        std::string s = text.str();
        while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
            s.pop_back();
        auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), next);
        if (err != std::errc() || end != s.data() + s.size() || next < 0) {
            return unexpected(error{std::make_error_code(std::errc::invalid_argument),
                                    file.string() + " does not hold a producer id: '" + s + "'"});
        }
    }
    return std::unique_ptr<producer_id_allocator>(new producer_id_allocator(file, next));
}

result<int64_t, error> producer_id_allocator::next() {
    std::lock_guard lock(_mutex);
    if (_next >= _block_end) {
        std::string text = std::to_string(_block_end + block_size) + "\n";
        auto st = storage::write_file_durably(
            _file, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
        if (!st) {
            return unexpected(error{st.error(), "cannot reserve producer ids in " + _file.string() +
                                                    ": " + st.error().message()});
        }
        _block_end += block_size;
    }
    return _next++;
}

}  // namespace trib::cluster
