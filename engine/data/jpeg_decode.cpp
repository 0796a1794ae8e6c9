#include "engine/data/jpeg_decode.h"

#include <csetjmp>
#include <cstddef>
#include <cstdio>  // jpeglib.h needs FILE and size_t first

#include <fmt/format.h>
#include <jerror.h>
#include <jpeglib.h>

#include "kernels/common/error.h"

namespace sxb {
namespace {

// libjpeg reports errors through callbacks that must not return; they jump
// back to decode() below. Nothing with a destructor lives in decode()'s
// frame, so the jump skips no C++ cleanup.
struct Failure {
  jpeg_error_mgr manager;  // first member: libjpeg's cinfo->err points here
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
  int width = 0, height = 0;  // of a file of the wrong size
  bool cmyk = false;
};

[[noreturn]] void fail(j_common_ptr cinfo) {
  auto* f = reinterpret_cast<Failure*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, f->message);
  std::longjmp(f->jump, 1);
}

// A warning (level -1) is about the data: premature end of file, corrupt
// entropy-coded data, extraneous bytes. libjpeg would go on with made-up
// pixels; here it is an error. Trace messages (level >= 0) are ignored, and
// so is an unknown JFIF version, which says nothing about the pixels.
void on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code != JWRN_JFIF_MAJOR) fail(cinfo);
}

// Returns true on success; otherwise `f` says why.
bool decode(const unsigned char* data, std::size_t size, unsigned char* out, int width, int height, Failure& f) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&f.manager);
  f.manager.error_exit = fail;
  f.manager.emit_message = on_message;
  if (setjmp(f.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    f.cmyk = true;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  if (static_cast<int>(cinfo.image_width) != width || static_cast<int>(cinfo.image_height) != height) {
    f.width = static_cast<int>(cinfo.image_width);
    f.height = static_cast<int>(cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  // libjpeg's defaults, as Pillow leaves them: JDCT_ISLOW, fancy upsampling, no scaling.
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out + static_cast<std::size_t>(cinfo.output_scanline) * width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);  // reads to EOI: corrupt data after the last row is an error too
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

std::vector<std::uint8_t> decode_jpeg_rgb(const std::string& bytes, const std::string& path, int width, int height) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3);
  Failure f;
  if (decode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), rgb.data(), width, height, f))
    return rgb;
  SXB_REQUIRE(!f.cmyk, path + ": CMYK JPEG is not supported (convert the image to RGB)");
  SXB_REQUIRE(f.width == 0 && f.height == 0,
              fmt::format("{}: image is {}x{}, expected {}x{}", path, f.width, f.height, width, height));
  throw Error(fmt::format("{}: cannot decode JPEG ({})", path, f.message));
}

}  // namespace sxb
