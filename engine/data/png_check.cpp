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

}  // namespace

void check_png_chunks(const std::string& bytes, const std::string& path) {
  static const char signature[] = "\x89PNG\r\n\x1a\n";
  SXB_REQUIRE(bytes.size() >= 8 && bytes.compare(0, 8, signature, 8) == 0, path + ": not a PNG file (bad signature)");
  std::size_t at = 8;
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
    at += 12 + length;
    if (type == "IEND") return;
  }
}

}  // namespace sxb
