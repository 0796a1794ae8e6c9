// PNG integrity: stb_image decodes PNG files without checking the CRC-32 of
// their chunks, so a corrupted file can decode into wrong pixels. Every chunk's
// CRC is checked here (zlib's crc32) before decoding.
#pragma once

#include <string>

namespace sxb {

// Throws an Error naming `path` and the chunk when `bytes` (the whole file) is
// not a PNG stream with a correct CRC in every chunk up to IEND.
void check_png_chunks(const std::string& bytes, const std::string& path);

}  // namespace sxb
