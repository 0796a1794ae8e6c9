#include "engine/data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "engine/data/synthetic.h"
#include "kernels/common/error.h"

#include <stb/stb_image.h>

namespace sxb {
namespace fs = std::filesystem;
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in.good(), path + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// label_bytes: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine); `which` picks one.
void append_records(Dataset& d, const std::string& path, int label_bytes, int which, int num_classes) {
  const std::string bytes = read_all(path);
  const std::size_t record = label_bytes + kImageBytes;
  SXB_REQUIRE(!bytes.empty() && bytes.size() % record == 0,
              fmt::format("{}: {} bytes is not a whole number of {}-byte records (truncated or not CIFAR binary)", path,
                          bytes.size(), record));
  const std::size_t n = bytes.size() / record;
  d.images.reserve(d.images.size() + n * kImageBytes);
  for (std::size_t k = 0; k < n; ++k) {
    const char* r = bytes.data() + k * record;
    const int label = static_cast<std::uint8_t>(r[which]);
    SXB_REQUIRE(label < num_classes,
                fmt::format("{}: record {} has label {}, expected 0..{}", path, k, label, num_classes - 1));
    d.labels.push_back(label);
    d.images.insert(d.images.end(), r + label_bytes, r + record);
  }
}

std::vector<std::string> read_names(const std::string& path) {
  std::vector<std::string> names;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

}  // namespace

Dataset read_cifar10_binary(const std::vector<std::string>& files) {
  Dataset d;
  d.num_classes = 10;
  for (const auto& f : files) append_records(d, f, 1, 0, 10);
  d.source = files.empty() ? "cifar10" : "cifar10:" + files.front();
  return d;
}

Dataset read_cifar100_binary(const std::vector<std::string>& files, bool coarse) {
  Dataset d;
  d.num_classes = coarse ? 20 : 100;
  for (const auto& f : files) append_records(d, f, 2, coarse ? 0 : 1, d.num_classes);
  d.source = files.empty() ? "cifar100" : "cifar100:" + files.front();
  return d;
}

Dataset load_cifar10_dir(const std::string& dir, Split split) {
  std::vector<std::string> files;
  if (split == Split::Test) {
    files.push_back(dir + "/test_batch.bin");
  } else {
    for (int k = 1; k <= 5; ++k) files.push_back(fmt::format("{}/data_batch_{}.bin", dir, k));
  }
  for (const auto& f : files) SXB_REQUIRE(fs::exists(f), f + ": not found (expected the CIFAR-10 binary distribution)");
  Dataset d = read_cifar10_binary(files);
  d.source = "cifar10:" + dir;
  d.class_names = read_names(dir + "/batches.meta.txt");
  if (d.class_names.size() != 10) d.class_names.clear();
  return d;
}

Dataset load_cifar100_dir(const std::string& dir, Split split, bool coarse) {
  const std::string f = dir + (split == Split::Test ? "/test.bin" : "/train.bin");
  SXB_REQUIRE(fs::exists(f), f + ": not found (expected the CIFAR-100 binary distribution)");
  Dataset d = read_cifar100_binary({f}, coarse);
  d.source = (coarse ? "cifar100-coarse:" : "cifar100:") + dir;
  d.class_names = read_names(dir + (coarse ? "/coarse_label_names.txt" : "/fine_label_names.txt"));
  if (static_cast<int>(d.class_names.size()) != d.num_classes) d.class_names.clear();
  return d;
}

Dataset load_image_folder(const std::string& dir_in, Split split) {
  std::string dir = dir_in;
  const std::string sub = split == Split::Test ? "test" : "train";
  if (fs::is_directory(dir + "/train") && fs::is_directory(dir + "/test")) dir += "/" + sub;
  SXB_REQUIRE(fs::is_directory(dir), dir + ": not a directory");
  Dataset d;
  d.source = "folder:" + dir;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) d.class_names.push_back(entry.path().filename().string());
  std::sort(d.class_names.begin(), d.class_names.end());
  SXB_REQUIRE(!d.class_names.empty(), dir + ": no class sub-folders");
  d.num_classes = static_cast<int>(d.class_names.size());
  for (int label = 0; label < d.num_classes; ++label) {
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir + "/" + d.class_names[label])) {
      std::string ext = entry.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
      if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png"))
        files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      int w = 0, h = 0, c = 0;
      unsigned char* px = stbi_load(f.c_str(), &w, &h, &c, 3);
      SXB_REQUIRE(px, fmt::format("{}: cannot decode image ({})", f, stbi_failure_reason()));
      if (w != kImageSize || h != kImageSize) {
        stbi_image_free(px);
        throw Error(fmt::format("{}: image is {}x{}, expected {}x{}", f, w, h, kImageSize, kImageSize));
      }
      const std::size_t base = d.images.size();
      d.images.resize(base + kImageBytes);
      for (int y = 0; y < kImageSize; ++y)
        for (int x = 0; x < kImageSize; ++x)
          for (int ch = 0; ch < 3; ++ch)
            d.images[base + ch * kImageSize * kImageSize + y * kImageSize + x] = px[(y * kImageSize + x) * 3 + ch];
      stbi_image_free(px);
      d.labels.push_back(label);
    }
  }
  SXB_REQUIRE(!d.labels.empty(), dir + ": no .jpg/.jpeg/.png images in the class folders");
  return d;
}

Dataset load_dataset(const std::string& spec, Split split, std::uint64_t seed) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "synthetic") {
    int n = split == Split::Train ? kSyntheticTrainSize : kSyntheticTestSize;
    if (!arg.empty()) {
      try {
        n = std::stoi(arg);
      } catch (const std::exception&) {
        throw Error("data '" + spec + "': expected synthetic or synthetic:N");
      }
      SXB_REQUIRE(n > 0 && n <= 10'000'000, "data '" + spec + "': N must be between 1 and 10000000");
    }
    // Train and test draw from disjoint streams of the same seed.
    return make_synthetic(n, seed * 2 + (split == Split::Test ? 1 : 0));
  }
  SXB_REQUIRE(!arg.empty(), "data '" + spec + "': expected cifar10:DIR, cifar100:DIR, folder:DIR or synthetic");
  if (kind == "cifar10") return load_cifar10_dir(arg, split);
  if (kind == "cifar100") return load_cifar100_dir(arg, split, false);
  if (kind == "cifar100-coarse") return load_cifar100_dir(arg, split, true);
  if (kind == "folder") return load_image_folder(arg, split);
  throw Error("data '" + spec + "': unknown kind '" + kind +
              "' (cifar10, cifar100, cifar100-coarse, folder, synthetic)");
}

}  // namespace sxb
