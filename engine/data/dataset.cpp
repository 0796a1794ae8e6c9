#include "engine/data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "engine/data/synthetic.h"
#include "kernels/common/error.h"

namespace sxb {
namespace fs = std::filesystem;
namespace {

std::string read_all(const std::string& path) {
  SXB_REQUIRE(fs::is_regular_file(path), path + (fs::exists(path) ? ": not a regular file" : ": not found"));
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in.good(), path + ": cannot open (" + std::strerror(errno) + ")");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SXB_REQUIRE(!in.bad(), path + ": cannot read (" + std::strerror(errno) + ")");
  return bytes;
}

// CIFAR-10 records: one label byte (< 10). CIFAR-100 records: coarse (< 20) then
// fine (< 100) label bytes, both checked whichever is used; `which` picks one.
void append_records(Dataset& d, const std::string& path, bool cifar100, int which) {
  const std::string bytes = read_all(path);
  const int label_bytes = cifar100 ? 2 : 1;
  const int classes[2] = {cifar100 ? 20 : 10, 100};
  const std::size_t record = label_bytes + kImageBytes;
  SXB_REQUIRE(!bytes.empty(), path + ": empty file (expected " + std::to_string(record) + "-byte CIFAR records)");
  SXB_REQUIRE(bytes.size() % record == 0,
              fmt::format("{}: {} bytes is not a whole number of {}-byte records (truncated or not {} binary; record "
                          "{} is incomplete)",
                          path, bytes.size(), record, cifar100 ? "CIFAR-100" : "CIFAR-10", bytes.size() / record));
  const std::size_t n = bytes.size() / record;
  d.images.reserve(d.images.size() + n * kImageBytes);
  for (std::size_t k = 0; k < n; ++k) {
    const char* r = bytes.data() + k * record;
    for (int b = 0; b < label_bytes; ++b) {
      const int label = static_cast<std::uint8_t>(r[b]);
      SXB_REQUIRE(label < classes[b],
                  fmt::format("{}: record {} has {}label {}, expected 0..{}", path, k,
                              !cifar100 ? "" : b == 0 ? "coarse " : "fine ", label, classes[b] - 1));
    }
    d.labels.push_back(static_cast<std::uint8_t>(r[which]));
    d.images.insert(d.images.end(), r + label_bytes, r + record);
  }
}

// Class names, one a line; none when the file is absent. A file with another
// number of names than classes is an error (it would name the wrong classes).
std::vector<std::string> read_names(const std::string& path, int classes) {
  std::vector<std::string> names;
  if (!fs::exists(path)) return names;
  std::istringstream in(read_all(path));
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  SXB_REQUIRE(static_cast<int>(names.size()) == classes,
              fmt::format("{}: {} class names, expected {}", path, names.size(), classes));
  return names;
}

}  // namespace

Dataset read_cifar10_binary(const std::vector<std::string>& files) {
  Dataset d;
  d.num_classes = 10;
  for (const auto& f : files) append_records(d, f, false, 0);
  d.source = files.empty() ? "cifar10" : "cifar10:" + files.front();
  return d;
}

Dataset read_cifar100_binary(const std::vector<std::string>& files, bool coarse) {
  Dataset d;
  d.num_classes = coarse ? 20 : 100;
  for (const auto& f : files) append_records(d, f, true, coarse ? 0 : 1);
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
  d.class_names = read_names(dir + "/batches.meta.txt", 10);
  return d;
}

Dataset load_cifar100_dir(const std::string& dir, Split split, bool coarse) {
  const std::string f = dir + (split == Split::Test ? "/test.bin" : "/train.bin");
  SXB_REQUIRE(fs::exists(f), f + ": not found (expected the CIFAR-100 binary distribution)");
  Dataset d = read_cifar100_binary({f}, coarse);
  d.source = (coarse ? "cifar100-coarse:" : "cifar100:") + dir;
  d.class_names = read_names(dir + (coarse ? "/coarse_label_names.txt" : "/fine_label_names.txt"), d.num_classes);
  return d;
}

namespace {

// N of "synthetic:N": digits only ("1e9" or "5x" are errors, never 1 or 5), 1..10^7.
int synthetic_count(const std::string& spec, const std::string& arg) {
  const Message bad{Key{"data"}, " '" + spec + "': expected synthetic or synthetic:N with N an integer in 1..10000000"};
  SXB_REQUIRE(!arg.empty() && arg.size() <= 8 && arg.find_first_not_of("0123456789") == std::string::npos, bad);
  const int n = std::stoi(arg);
  SXB_REQUIRE(n >= 1 && n <= 10'000'000, bad);
  return n;
}

}  // namespace

Dataset load_dataset(const std::string& spec, Split split, std::uint64_t seed) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "synthetic") {
    int n = split == Split::Train ? kSyntheticTrainSize : kSyntheticTestSize;
    if (colon != std::string::npos) n = synthetic_count(spec, arg);  // "synthetic:" is an error, not the default
    // Train and test draw from disjoint streams of the same seed.
    return make_synthetic(n, seed * 2 + (split == Split::Test ? 1 : 0));
  }
  SXB_REQUIRE(!arg.empty(),
              Message{Key{"data"}, " '" + spec + "': expected cifar10:DIR, cifar100:DIR, folder:DIR or synthetic"});
  if (kind == "cifar10") return load_cifar10_dir(arg, split);
  if (kind == "cifar100") return load_cifar100_dir(arg, split, false);
  if (kind == "cifar100-coarse") return load_cifar100_dir(arg, split, true);
  if (kind == "folder") return load_image_folder(arg, split);
  throw Error(Message{Key{"data"}, " '" + spec + "': unknown kind '" + kind +
                                       "' (cifar10, cifar100, cifar100-coarse, folder, synthetic)"});
}

Dataset first_per_class(const Dataset& d, int per_class) {
  SXB_REQUIRE(per_class >= 1, fmt::format("images per class must be at least 1 (got {})", per_class));
  Dataset out;
  out.source = fmt::format("{} (first {} per class)", d.source, per_class);
  out.class_names = d.class_names;
  out.num_classes = d.num_classes;
  std::vector<int> taken(static_cast<std::size_t>(std::max(d.num_classes, 0)), 0);
  for (std::size_t k = 0; k < d.size(); ++k) {
    const int label = d.labels[k];
    if (label < 0 || label >= d.num_classes || taken[static_cast<std::size_t>(label)]++ >= per_class) continue;
    out.labels.push_back(label);
    out.images.insert(out.images.end(), d.image(k), d.image(k) + kImageBytes);
  }
  return out;
}

void check_data_spec(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  if (kind == "synthetic") {
    if (colon != std::string::npos) (void)synthetic_count(spec, spec.substr(colon + 1));
    return;
  }
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  SXB_REQUIRE(kind == "cifar10" || kind == "cifar100" || kind == "cifar100-coarse" || kind == "folder",
              Message{Key{"data"}, " '" + spec + "': unknown kind '" + kind +
                                       "' (cifar10, cifar100, cifar100-coarse, folder, synthetic)"});
  SXB_REQUIRE(!arg.empty(), Message{Key{"data"}, " '" + spec + "': expected " + kind + ":DIR"});
  SXB_REQUIRE(fs::is_directory(arg), Message{Key{"data"}, " '" + spec + "': " + arg + " is not a folder"});
}

std::string resolve_data_spec(const std::string& spec, const std::string& root) {
  const auto colon = spec.find(':');
  if (root.empty() || colon == std::string::npos || spec.compare(0, colon, "synthetic") == 0) return spec;
  const fs::path dir = spec.substr(colon + 1);
  if (dir.empty() || dir.is_absolute()) return spec;
  return spec.substr(0, colon + 1) + (fs::path(root) / dir).lexically_normal().string();
}

}  // namespace sxb
