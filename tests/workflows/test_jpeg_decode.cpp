// JPEG decoding (engine/data/jpeg_decode.h): the pixels Pillow decodes
// (tests/workflows/data, written by make_jpeg_reference.py there), and one-line
// errors naming the file for corrupt, truncated, CMYK and wrong-size files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/data/jpeg_decode.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {
namespace fs = std::filesystem;

const fs::path kData = fs::path(SXB_SOURCE_DIR) / "tests" / "workflows" / "data";

std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  EXPECT_TRUE(in.good()) << file;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string error_of(const std::string& bytes, const std::string& path, int size = 16) {
  try {
    decode_jpeg_rgb(bytes, path, size, size);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Values that differ between our decode and Pillow's.
int differences_from_pillow(const std::string& name) {
  const std::vector<std::uint8_t> rgb = decode_jpeg_rgb(read(kData / (name + ".jpg")), name + ".jpg", 16, 16);
  const std::string pillow = read(kData / (name + ".pil.rgb"));
  EXPECT_EQ(rgb.size(), pillow.size());
  int differ = 0;
  for (std::size_t i = 0; i < std::min(rgb.size(), pillow.size()); ++i)
    differ += rgb[i] != static_cast<std::uint8_t>(pillow[i]);
  return differ;
}

// The offset of the first entropy-coded byte: after the SOS segment.
std::size_t scan_start(const std::string& jpeg) {
  const std::size_t sos = jpeg.find("\xff\xda");
  EXPECT_NE(sos, std::string::npos);
  return sos + 2 + ((static_cast<std::uint8_t>(jpeg[sos + 2]) << 8) | static_cast<std::uint8_t>(jpeg[sos + 3]));
}

TEST(JpegDecode, ColorMatchesPillowPixelForPixel) {
  EXPECT_EQ(differences_from_pillow("color_420"), 0);  // 4:2:0: Pillow's upsampling and IDCT
}

TEST(JpegDecode, GrayIsReplicatedToRgbAsPillowConvertsIt) {
  EXPECT_EQ(differences_from_pillow("gray"), 0);
  const auto rgb = decode_jpeg_rgb(read(kData / "gray.jpg"), "gray.jpg", 16, 16);
  for (std::size_t p = 0; p < rgb.size(); p += 3) {
    EXPECT_EQ(rgb[p], rgb[p + 1]);
    EXPECT_EQ(rgb[p], rgb[p + 2]);
  }
}

TEST(JpegDecode, TruncatedFileIsAnErrorNamingIt) {
  const std::string jpeg = read(kData / "color_420.jpg");
  const std::size_t cut = (scan_start(jpeg) + jpeg.size()) / 2;  // halfway through the scan
  const std::string msg = error_of(jpeg.substr(0, cut), "a/cut.jpg");
  EXPECT_EQ(msg, "a/cut.jpg: cannot decode JPEG (Premature end of JPEG file)");
  // Only the end-of-image marker missing: the pixels are all there, still an error.
  EXPECT_NE(error_of(jpeg.substr(0, jpeg.size() - 2), "a/no_eoi.jpg").find("a/no_eoi.jpg: cannot decode JPEG"),
            std::string::npos);
}

TEST(JpegDecode, CorruptScanDataIsAnErrorNamingIt) {
  std::string jpeg = read(kData / "color_420.jpg");
  const std::size_t at = scan_start(jpeg) + 4;
  jpeg.insert(at, "\xff\xd3", 2);  // a restart marker where none belongs
  const std::string msg = error_of(jpeg, "b/marker.jpg");
  EXPECT_EQ(msg.rfind("b/marker.jpg: cannot decode JPEG (Corrupt JPEG data", 0), 0u) << msg;
}

TEST(JpegDecode, NotAJpegEmptyCmykAndWrongSizeAreErrors) {
  EXPECT_EQ(error_of("garbage", "g.jpg"), "g.jpg: cannot decode JPEG (Not a JPEG file: starts with 0x67 0x61)");
  EXPECT_NE(error_of("", "e.jpg").find("e.jpg: cannot decode JPEG ("), std::string::npos);
  EXPECT_EQ(error_of(read(kData / "cmyk.jpg"), "c.jpg", 8), "c.jpg: CMYK JPEG is not supported (convert the image to RGB)");
  EXPECT_EQ(error_of(read(kData / "color_420.jpg"), "s.jpg", 32), "s.jpg: image is 16x16, expected 32x32");
}

// The file with which fuzz_image found an out-of-bounds write in stb_image's
// JPEG decoder (Huffman table counts summing past 256).
TEST(JpegDecode, FuzzFindingOfStbIsRejected) {
  const fs::path file = fs::path(SXB_SOURCE_DIR) / "tests/fuzz/regressions/fuzz_image/stb_jpeg_huffman_counts_over_256";
  const std::string msg = error_of(read(file), "h.jpg", 32);
  EXPECT_EQ(msg.rfind("h.jpg: cannot decode JPEG (", 0), 0u) << msg;
}

}  // namespace
}  // namespace sxb
