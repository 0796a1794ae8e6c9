// libFuzzer target: image folders (engine/data/dataset.h: load_image_folder),
// one class folder holding the fuzzer's bytes as one image: 0.jpg when they
// start with a JPEG SOI marker (decoded by libjpeg-turbo), else 0.png (chunk
// CRCs checked, then stb_image, compiled into this target by
// tests/fuzz/stb_image_impl.cpp so that it runs instrumented). An accepted
// folder holds one 32x32x3 image.
#include "engine/data/dataset.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sxb;
  const bool jpeg = size >= 2 && data[0] == 0xff && data[1] == 0xd8;
  std::filesystem::remove(fuzz::scratch_dir() / (jpeg ? "images/cat/0.png" : "images/cat/0.jpg"));  // the last input's
  const std::string path = fuzz::as_file(data, size, jpeg ? "images/cat/0.jpg" : "images/cat/0.png");
  Dataset d;
  if (!fuzz::accepts([&] { d = load_image_folder(std::filesystem::path(path).parent_path().parent_path().string(),
                                                 Split::Train); }))
    return 0;
  if (d.size() != 1 || d.images.size() != static_cast<std::size_t>(kImageBytes) || d.num_classes != 1)
    fuzz::finding("image folder: one image file did not give one image");
  return 0;
}
