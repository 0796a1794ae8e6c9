// PNG integrity: stb_image decodes PNG files without checking the CRC-32 of
// their chunks, so a corrupted file can decode into wrong pixels. Every chunk's
// CRC is checked here (zlib's crc32) before decoding, and the image data is
// inflated once by zlib, which checks its Adler-32 (stb_image does not).
#pragma once

#include <string>

namespace sxb {

// Throws an Error naming `path` and the chunk when `bytes` (the whole file) is
// not a PNG stream with a correct CRC in every chunk up to IEND and a zlib
// stream (IDAT) that inflates to its end with a correct Adler-32.
void check_png_chunks(const std::string& bytes, const std::string& path);

}  // namespace sxb
