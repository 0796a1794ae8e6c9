#include "engine/data/png_check.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstdint>

#include "kernels/common/error.h"

namespace sxb {
namespace {

std::uint32_t big_endian(const std::string& b, std::size_t at) {
  return (std::uint32_t{static_cast<std::uint8_t>(b[at])} << 24) |
         (std::uint32_t{static_cast<std::uint8_t>(b[at + 1])} << 16) |
         (std::uint32_t{static_cast<std::uint8_t>(b[at + 2])} << 8) | std::uint32_t{static_cast<std::uint8_t>(b[at + 3])};
}

// Inflates the image data (the IDAT chunks, one zlib stream) into a scratch
// buffer: zlib checks the stream and its Adler-32, which stb_image does not.
void check_image_stream(const std::string& idat, const std::string& path) {
  z_stream z{};
  SXB_REQUIRE(::inflateInit(&z) == Z_OK, path + ": cannot start zlib");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(idat.data()));
  z.avail_in = static_cast<uInt>(idat.size());
  unsigned char scratch[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = scratch;
    z.avail_out = sizeof scratch;
    rc = ::inflate(&z, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // no progress: the stream ended early
    if (rc == Z_BUF_ERROR) rc = Z_OK;
  }
  const std::string why = z.msg ? z.msg : rc == Z_OK || rc == Z_BUF_ERROR ? "truncated" : "error " + std::to_string(rc);
  ::inflateEnd(&z);
  SXB_REQUIRE(rc == Z_STREAM_END, fmt::format("{}: corrupt PNG (image data: {})", path, why));
}

}  // namespace

void check_png_chunks(const std::string& bytes, const std::string& path) {
  static const char signature[] = "\x89PNG\r\n\x1a\n";
  SXB_REQUIRE(bytes.size() >= 8 && bytes.compare(0, 8, signature, 8) == 0, path + ": not a PNG file (bad signature)");
  std::size_t at = 8;
  std::string idat;
  for (int chunk = 0;; ++chunk) {
    // length (4), type (4), data (length), CRC of type + data (4)
    SXB_REQUIRE(at + 12 <= bytes.size(), fmt::format("{}: truncated PNG (chunk {} incomplete, no IEND)", path, chunk));
    const std::uint32_t length = big_endian(bytes, at);
    const std::string type = bytes.substr(at + 4, 4);
    SXB_REQUIRE(length <= bytes.size() - at - 12,
                fmt::format("{}: truncated PNG (chunk {} '{}' runs past the end)", path, chunk, type));
    const auto* data = reinterpret_cast<const Bytef*>(bytes.data() + at + 4);
    const std::uint32_t crc = static_cast<std::uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), data, length + 4));
    SXB_REQUIRE(crc == big_endian(bytes, at + 8 + length),
                fmt::format("{}: corrupt PNG (CRC mismatch in chunk {} '{}')", path, chunk, type));
    if (type == "IDAT") idat.append(bytes, at + 8, length);
    at += 12 + length;
    if (type == "IEND") return check_image_stream(idat, path);
  }
}

}  // namespace sxb
