#include "model/compression.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

namespace trib::model {

namespace {

using bytes = std::vector<uint8_t>;

// Output grows in steps of at most this much, so the limit is checked as we go.
constexpr size_t chunk = size_t{64} * 1024;

result<bytes> gzip_compress(std::span<const uint8_t> in) {
    z_stream z{};
    // windowBits 15 + 16: write a gzip header and trailer, as Kafka clients do.
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return errc::compression_failed;
    }
    bytes out(deflateBound(&z, static_cast<uLong>(in.size())) + 32);
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) return errc::compression_failed;
    return out;
}

result<bytes> gzip_decompress(std::span<const uint8_t> in, size_t max_size) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 32) != Z_OK) return errc::decompression_failed;  // gzip or zlib
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
    bytes out;
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    for (;;) {
        if (out.size() >= max_size) return errc::decompressed_too_large;
        size_t at = out.size();
        out.resize(at + std::min(chunk, max_size - at));
        z.next_out = out.data() + at;
        z.avail_out = static_cast<uInt>(out.size() - at);
        int rc = inflate(&z, Z_NO_FLUSH);
        out.resize(out.size() - z.avail_out);
        if (rc == Z_STREAM_END) {
            // Concatenated gzip members are one stream to gzip readers; accept them too.
            if (z.avail_in == 0) return out;
            if (inflateReset(&z) != Z_OK) return errc::decompression_failed;
            continue;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) return errc::decompression_failed;
        if (rc == Z_BUF_ERROR && z.avail_in == 0) return errc::decompression_failed;  // cut off
    }
}

// xerial snappy-java framing: magic, two int32 versions, then int32-length-prefixed blocks.
constexpr std::array<uint8_t, 8> xerial_magic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t xerial_header_size = 16;

bool append_snappy_block(std::span<const uint8_t> block, size_t max_size, bytes& out,
                         std::error_code& error) {
    size_t n = 0;
    const auto* src = reinterpret_cast<const char*>(block.data());
    if (!snappy::GetUncompressedLength(src, block.size(), &n)) {
        error = errc::decompression_failed;
        return false;
    }
    if (n > max_size - out.size()) {
        error = errc::decompressed_too_large;
        return false;
    }
    size_t at = out.size();
    out.resize(at + n);
    if (!snappy::RawUncompress(src, block.size(), reinterpret_cast<char*>(out.data() + at))) {
        error = errc::decompression_failed;
        return false;
    }
    return true;
}

result<bytes> snappy_decompress(std::span<const uint8_t> in, size_t max_size) {
    bytes out;
    std::error_code error;
    bool xerial = in.size() >= xerial_header_size &&
                  std::equal(xerial_magic.begin(), xerial_magic.end(), in.begin());
    if (!xerial) {
        if (!append_snappy_block(in, max_size, out, error)) return unexpected(error);
        return out;
    }
    size_t pos = xerial_header_size;
    while (pos < in.size()) {
        if (in.size() - pos < 4) return errc::decompression_failed;
        uint32_t len = (uint32_t{in[pos]} << 24) | (uint32_t{in[pos + 1]} << 16) |
                       (uint32_t{in[pos + 2]} << 8) | in[pos + 3];
        pos += 4;
        if (len > in.size() - pos) return errc::decompression_failed;
        if (!append_snappy_block(in.subspan(pos, len), max_size, out, error)) {
            return unexpected(error);
        }
        pos += len;
    }
    return out;
}

result<bytes> snappy_compress(std::span<const uint8_t> in) {
    bytes out(snappy::MaxCompressedLength(in.size()));
    size_t n = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(in.data()), in.size(),
                        reinterpret_cast<char*>(out.data()), &n);
    out.resize(n);
    return out;
}

result<bytes> lz4_compress(std::span<const uint8_t> in) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.contentSize = in.size();
    bytes out(LZ4F_compressFrameBound(in.size(), &prefs));
    size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
    if (LZ4F_isError(n)) return errc::compression_failed;
    out.resize(n);
    return out;
}

result<bytes> lz4_decompress(std::span<const uint8_t> in, size_t max_size) {
    LZ4F_dctx* ctx = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
        return errc::decompression_failed;
    }
    std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(
        ctx, LZ4F_freeDecompressionContext);
    bytes out;
    size_t pos = 0;
    for (;;) {
        if (out.size() >= max_size) return errc::decompressed_too_large;
        size_t at = out.size();
        out.resize(at + std::min(chunk, max_size - at));
        size_t dst = out.size() - at;
        size_t src = in.size() - pos;
        size_t hint = LZ4F_decompress(ctx, out.data() + at, &dst, in.data() + pos, &src, nullptr);
        out.resize(at + dst);
        if (LZ4F_isError(hint)) return errc::decompression_failed;
        pos += src;
        if (hint == 0) {
            if (pos != in.size()) return errc::decompression_failed;  // bytes after the frame
            return out;
        }
        if (pos == in.size() && dst == 0) return errc::decompression_failed;  // cut off
    }
}

result<bytes> zstd_compress(std::span<const uint8_t> in) {
    bytes out(ZSTD_compressBound(in.size()));
    size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
    if (ZSTD_isError(n)) return errc::compression_failed;
    out.resize(n);
    return out;
}

result<bytes> zstd_decompress(std::span<const uint8_t> in, size_t max_size) {
    std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> ctx(ZSTD_createDStream(),
                                                                 ZSTD_freeDStream);
    if (!ctx) return errc::decompression_failed;
    bytes out;
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    size_t last = 1;
    while (src.pos < src.size || last != 0) {
        if (out.size() >= max_size) return errc::decompressed_too_large;
        size_t at = out.size();
        out.resize(at + std::min(chunk, max_size - at));
        ZSTD_outBuffer dst{out.data() + at, out.size() - at, 0};
        size_t before = src.pos;
        last = ZSTD_decompressStream(ctx.get(), &dst, &src);
        out.resize(at + dst.pos);
        if (ZSTD_isError(last)) return errc::decompression_failed;
        if (dst.pos == 0 && src.pos == before) return errc::decompression_failed;  // cut off
    }
    return out;
}

}  // namespace

const char* compression_name(compression c) {
    switch (c) {
        case compression::none:
            return "none";
        case compression::gzip:
            return "gzip";
        case compression::snappy:
            return "snappy";
        case compression::lz4:
            return "lz4";
        case compression::zstd:
            return "zstd";
    }
    return "unknown";
}

result<bytes> compress(compression c, std::span<const uint8_t> data) {
    switch (c) {
        case compression::none:
            return bytes(data.begin(), data.end());
        case compression::gzip:
            return gzip_compress(data);
        case compression::snappy:
            return snappy_compress(data);
        case compression::lz4:
            return lz4_compress(data);
        case compression::zstd:
            return zstd_compress(data);
    }
    return errc::unsupported_compression;
}

result<bytes> decompress(compression c, std::span<const uint8_t> data, size_t max_size) {
    switch (c) {
        case compression::none:
            if (data.size() > max_size) return errc::decompressed_too_large;
            return bytes(data.begin(), data.end());
        case compression::gzip:
            return gzip_decompress(data, max_size);
        case compression::snappy:
            return snappy_decompress(data, max_size);
        case compression::lz4:
            return lz4_decompress(data, max_size);
        case compression::zstd:
            return zstd_decompress(data, max_size);
    }
    return errc::unsupported_compression;
}

}  // namespace trib::model
