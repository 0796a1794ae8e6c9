// Image folders (load_image_folder of engine/data/dataset.h). One class list,
// from the training split's class folders, labels every split by name, so a
// class missing from test/ shifts no label; everything that is not a class
// folder of decodable 32x32 images is an error naming its path.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "engine/data/dataset.h"
#include "engine/data/jpeg_decode.h"
#include "engine/data/png_check.h"
#include "kernels/common/error.h"

#include <stb/stb_image.h>

namespace sxb {
namespace fs = std::filesystem;
namespace {

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }  // .DS_Store, .git

std::vector<fs::directory_entry> entries(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::directory_entry> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!hidden(it->path())) out.push_back(*it);
  if (ec) throw Error(fmt::format("{}: cannot list ({})", dir.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

// The class folders of a split, sorted by name (= label order).
std::vector<std::string> class_folders(const fs::path& root) {
  std::vector<std::string> names;
  for (const auto& e : entries(root)) {
    SXB_REQUIRE(e.is_directory(), e.path().string() + ": not a class folder (a split holds only class folders)");
    names.push_back(e.path().filename().string());
  }
  SXB_REQUIRE(!names.empty(), root.string() + ": no class folders");
  return names;
}

bool image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// The images of one class folder, sorted; anything else in it is an error.
std::vector<fs::path> class_images(const fs::path& folder) {
  std::vector<fs::path> files;
  for (const auto& e : entries(folder)) {
    SXB_REQUIRE(e.is_regular_file() && image_name(e.path()),
                e.path().string() + ": not an image (a class folder holds only .png/.jpg/.jpeg files)");
    files.push_back(e.path());
  }
  SXB_REQUIRE(!files.empty(), folder.string() + ": empty class folder");
  return files;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  SXB_REQUIRE(in.good(), fmt::format("{}: cannot open ({})", file.string(), std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SXB_REQUIRE(!in.bad(), fmt::format("{}: cannot read ({})", file.string(), std::strerror(errno)));
  return bytes;
}

// Interleaved RGB rows -> the CHW planes of a new dataset image.
void append_pixels(Dataset& d, const unsigned char* rgb) {
  const std::size_t base = d.images.size();
  d.images.resize(base + kImageBytes);
  for (int y = 0; y < kImageSize; ++y)
    for (int x = 0; x < kImageSize; ++x)
      for (int ch = 0; ch < 3; ++ch)
        d.images[base + ch * kImageSize * kImageSize + y * kImageSize + x] = rgb[(y * kImageSize + x) * 3 + ch];
}

// JPEG through libjpeg-turbo (engine/data/jpeg_decode.h); PNG through stb_image
// after the chunk CRCs are checked (which also makes sure stb sees a PNG).
void append_image(Dataset& d, const fs::path& file, int label) {
  const std::string f = file.string(), bytes = read_bytes(file);
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext != ".png") {
    append_pixels(d, decode_jpeg_rgb(bytes, f, kImageSize, kImageSize).data());
    d.labels.push_back(label);
    return;
  }
  check_png_chunks(bytes, f);
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                                            static_cast<int>(bytes.size()), &w, &h, &c, 3);
  SXB_REQUIRE(px, fmt::format("{}: cannot decode PNG ({})", f, stbi_failure_reason()));
  if (w != kImageSize || h != kImageSize) {
    stbi_image_free(px);
    throw Error(fmt::format("{}: image is {}x{}, expected {}x{}", f, w, h, kImageSize, kImageSize));
  }
  append_pixels(d, px);
  stbi_image_free(px);
  d.labels.push_back(label);
}

Dataset read_image_folder(const std::string& dir, Split split) {
  const fs::path root(dir);
  SXB_REQUIRE(fs::is_directory(root), dir + ": not a directory");
  const bool has_train = fs::is_directory(root / "train"), has_test = fs::is_directory(root / "test");
  SXB_REQUIRE(has_train == has_test, fmt::format("{}: has {}/ but no {}/ (give both splits, or neither: then every "
                                                 "fifth image of each class is held out for test)",
                                                 dir, has_train ? "train" : "test", has_train ? "test" : "train"));
  Dataset d;
  if (has_train) {
    const fs::path train = root / "train", here = root / (split == Split::Test ? "test" : "train");
    d.class_names = class_folders(train);
    d.source = "folder:" + here.string();
    if (split == Split::Test)
      for (const std::string& name : d.class_names) class_images(train / name);  // the training split is sound too
    for (const std::string& name : class_folders(here)) {
      const auto it = std::find(d.class_names.begin(), d.class_names.end(), name);
      SXB_REQUIRE(it != d.class_names.end(), fmt::format("{}: class '{}' is not a class of the training split {}",
                                                         (here / name).string(), name, train.string()));
      const int label = static_cast<int>(it - d.class_names.begin());
      for (const fs::path& f : class_images(here / name)) append_image(d, f, label);
    }
  } else {
    // No split on disk: image k of each class (name order) is a test image when k % 5 == 4.
    d.class_names = class_folders(root);
    d.source = "folder:" + dir + (split == Split::Test ? " (held-out fifth)" : " (training four fifths)");
    for (std::size_t label = 0; label < d.class_names.size(); ++label) {
      const std::vector<fs::path> files = class_images(root / d.class_names[label]);
      for (std::size_t k = 0; k < files.size(); ++k)
        if ((k % 5 == 4) == (split == Split::Test)) append_image(d, files[k], static_cast<int>(label));
    }
    SXB_REQUIRE(!d.labels.empty() || split == Split::Train,
                dir + ": no class has 5 images, so none is held out for test (give train/ and test/ splits)");
  }
  d.num_classes = static_cast<int>(d.class_names.size());
  return d;
}

}  // namespace

Dataset load_image_folder(const std::string& dir, Split split) {
  try {
    return read_image_folder(dir, split);
  } catch (const fs::filesystem_error& e) {
    // A symbolic-link loop, an unreadable folder: an error naming the path, not an internal error.
    throw Error(fmt::format("data folder {}: {}: {}", dir, e.path1().empty() ? dir : e.path1().string(),
                            e.code().message()));
  }
}

}  // namespace sxb
