#include "log/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"

namespace strata {
namespace {

absl::Status TooLarge(size_t max_output_bytes) {
  return absl::InvalidArgumentError(
      absl::StrCat("decompressed size exceeds the limit of ", max_output_bytes, " bytes"));
}

absl::StatusOr<std::string> GzipCompress(std::span<const uint8_t> in, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level == 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return absl::InternalError("gzip compression did not finish");
  return out;
}

absl::StatusOr<std::string> GzipDecompress(std::span<const uint8_t> in, size_t max_out) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return absl::InternalError("inflateInit2 failed");
  std::string out;
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  char chunk[16384];
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return absl::InvalidArgumentError(absl::StrCat("corrupt gzip data (zlib error ", rc, ")"));
    }
    size_t produced = sizeof(chunk) - zs.avail_out;
    if (out.size() + produced > max_out) {
      inflateEnd(&zs);
      return TooLarge(max_out);
    }
    out.append(chunk, produced);
    if (rc == Z_OK && produced == 0 && zs.avail_in == 0) {
      inflateEnd(&zs);
      return absl::InvalidArgumentError("truncated gzip data");
    }
  }
  inflateEnd(&zs);
  return out;
}

// xerial snappy-java stream framing: a 16-byte header, then (int32 length, snappy block)*.
constexpr uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderSize = 16;
constexpr size_t kXerialBlockSize = 32 * 1024;

absl::StatusOr<std::string> SnappyCompress(std::span<const uint8_t> in) {
  std::string out(reinterpret_cast<const char*>(kXerialMagic), 8);
  ByteWriter w(&out);
  w.WriteInt32(1);  // version
  w.WriteInt32(1);  // minimum compatible version
  std::string block;
  for (size_t pos = 0; pos < in.size(); pos += kXerialBlockSize) {
    size_t n = std::min(kXerialBlockSize, in.size() - pos);
    snappy::Compress(reinterpret_cast<const char*>(in.data() + pos), n, &block);
    w.WriteInt32(static_cast<int32_t>(block.size()));
    out.append(block);
  }
  return out;
}

absl::Status SnappyBlock(absl::string_view block, size_t max_out, std::string* out) {
  size_t len = 0;
  if (!snappy::GetUncompressedLength(block.data(), block.size(), &len)) {
    return absl::InvalidArgumentError("corrupt snappy block");
  }
  if (out->size() + len > max_out) return TooLarge(max_out);
  size_t old = out->size();
  out->resize(old + len);
  if (!snappy::RawUncompress(block.data(), block.size(), out->data() + old)) {
    return absl::InvalidArgumentError("corrupt snappy block");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SnappyDecompress(std::span<const uint8_t> in, size_t max_out) {
  std::string out;
  bool xerial = in.size() >= kXerialHeaderSize && std::memcmp(in.data(), kXerialMagic, 8) == 0;
  if (!xerial) {
    if (auto s = SnappyBlock(AsStringView(in), max_out, &out); !s.ok()) return s;
    return out;
  }
  ByteReader r(in.subspan(kXerialHeaderSize));
  while (!r.empty()) {
    auto len = r.ReadInt32();
    if (!len.ok() || *len < 0) return absl::InvalidArgumentError("corrupt snappy-java framing");
    auto block = r.ReadBytes(static_cast<size_t>(*len));
    if (!block.ok()) return absl::InvalidArgumentError("truncated snappy-java block");
    if (auto s = SnappyBlock(AsStringView(*block), max_out, &out); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<std::string> Lz4Compress(std::span<const uint8_t> in, int level) {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.compressionLevel = level;
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.contentSize = in.size();
  std::string out(LZ4F_compressFrameBound(in.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) return absl::InternalError(LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

absl::StatusOr<std::string> Lz4Decompress(std::span<const uint8_t> in, size_t max_out) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
    return absl::InternalError("LZ4F_createDecompressionContext failed");
  }
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> guard(
      ctx, LZ4F_freeDecompressionContext);
  std::string out;
  char chunk[65536];
  size_t pos = 0;
  size_t hint = 1;
  while (hint != 0) {
    size_t src_size = in.size() - pos;
    size_t dst_size = sizeof(chunk);
    hint = LZ4F_decompress(ctx, chunk, &dst_size, in.data() + pos, &src_size, nullptr);
    if (LZ4F_isError(hint)) {
      return absl::InvalidArgumentError(absl::StrCat("corrupt lz4 data: ", LZ4F_getErrorName(hint)));
    }
    pos += src_size;
    if (out.size() + dst_size > max_out) return TooLarge(max_out);
    out.append(chunk, dst_size);
    if (hint != 0 && pos == in.size() && dst_size == 0) {
      return absl::InvalidArgumentError("truncated lz4 frame");
    }
  }
  return out;
}

absl::StatusOr<std::string> ZstdCompress(std::span<const uint8_t> in, int level) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level == 0 ? 3 : level);
  if (ZSTD_isError(n)) return absl::InternalError(ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

absl::StatusOr<std::string> ZstdDecompress(std::span<const uint8_t> in, size_t max_out) {
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> ds(ZSTD_createDStream(),
                                                                ZSTD_freeDStream);
  ZSTD_initDStream(ds.get());
  std::string out;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  char chunk[65536];
  size_t rc = 1;
  while (rc != 0) {
    ZSTD_outBuffer output{chunk, sizeof(chunk), 0};
    rc = ZSTD_decompressStream(ds.get(), &output, &input);
    if (ZSTD_isError(rc)) {
      return absl::InvalidArgumentError(absl::StrCat("corrupt zstd data: ", ZSTD_getErrorName(rc)));
    }
    if (out.size() + output.pos > max_out) return TooLarge(max_out);
    out.append(chunk, output.pos);
    if (rc != 0 && input.pos == input.size && output.pos < output.size) {
      return absl::InvalidArgumentError("truncated zstd frame");
    }
  }
  return out;
}

}  // namespace

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kLz4:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

bool ParseCompression(absl::string_view name, Compression* out) {
  for (uint8_t i = 0; i <= kMaxCompressionCodec; ++i) {
    if (name == CompressionName(static_cast<Compression>(i))) {
      *out = static_cast<Compression>(i);
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::string> Compress(Compression codec, std::span<const uint8_t> input,
                                     int level) {
  switch (codec) {
    case Compression::kNone:
      return std::string(AsStringView(input));
    case Compression::kGzip:
      return GzipCompress(input, level);
    case Compression::kSnappy:
      return SnappyCompress(input);
    case Compression::kLz4:
      return Lz4Compress(input, level);
    case Compression::kZstd:
      return ZstdCompress(input, level);
  }
  return absl::InvalidArgumentError("unknown compression codec");
}

absl::StatusOr<std::string> Decompress(Compression codec, std::span<const uint8_t> input,
                                       size_t max_output_bytes) {
  switch (codec) {
    case Compression::kNone:
      if (input.size() > max_output_bytes) return TooLarge(max_output_bytes);
      return std::string(AsStringView(input));
    case Compression::kGzip:
      return GzipDecompress(input, max_output_bytes);
    case Compression::kSnappy:
      return SnappyDecompress(input, max_output_bytes);
    case Compression::kLz4:
      return Lz4Decompress(input, max_output_bytes);
    case Compression::kZstd:
      return ZstdDecompress(input, max_output_bytes);
  }
  return absl::InvalidArgumentError("unknown compression codec");
}

}  // namespace strata
