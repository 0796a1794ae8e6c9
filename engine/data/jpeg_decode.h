// JPEG decoding with libjpeg-turbo (Debian libjpeg62-turbo), the decoder and
// the settings Pillow uses (integer IDCT JDCT_ISLOW, fancy upsampling), so an
// image folder gives the pixels torchvision's ImageFolder gives.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sxb {

// Decodes the JPEG file `bytes` into width * height RGB pixels (row-major,
// R, G, B interleaved). Grayscale files are replicated to R = G = B (as
// Pillow's convert("RGB")). Throws an Error naming `path` when the file does
// not decode, when libjpeg warns about its data (a truncated or corrupt file
// would otherwise decode into gray or wrong pixels), when it is CMYK/YCCK or
// when it is not width x height (checked before any pixel is decoded).
std::vector<std::uint8_t> decode_jpeg_rgb(const std::string& bytes, const std::string& path, int width, int height);

}  // namespace sxb
