#include "cluster/producer_ids.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace trib::cluster {

std::optional<int64_t> producer_id_allocator::try_next() {
    std::lock_guard lock(_mutex);
    if (_next >= _end) return std::nullopt;
    return _next++;
}

void producer_id_allocator::add_block(int64_t first, int64_t count) {
    std::lock_guard lock(_mutex);
    if (_next < _end) return;  // another request refilled it first: this block is skipped
    _next = first;
    _end = first + count;
}

result<int64_t, error> producer_id_allocator::read_legacy_next(
    const std::filesystem::path& data_dir) {
    auto file = data_dir / "producer_ids";
    int64_t next = 0;
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return next;
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
    return next;
}

}  // namespace trib::cluster
