// Data sets: CIFAR binary files and image folders built in the test, the
// synthetic set, and (label `data`) the real files in ../shared/data.
#include <gtest/gtest.h>
#include <omp.h>
#include <stb/stb_image_write.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/data/dataset.h"
#include "tests/test_helpers.h"
#include "engine/data/synthetic.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {
namespace fs = std::filesystem;

// n records; label bytes then a pixel pattern derived from the record index.
void write_cifar(const fs::path& file, int n, int label_bytes, int max_label) {
  std::ofstream out(file, std::ios::binary);
  for (int k = 0; k < n; ++k) {
    for (int b = 0; b < label_bytes; ++b) out.put(static_cast<char>((k + b) % max_label));
    for (int i = 0; i < kImageBytes; ++i) out.put(static_cast<char>((k * 7 + i) % 256));
  }
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Dataset, Cifar10BinaryDirectory) {
  const fs::path dir = test::fresh_dir("cifar-10-batches-bin");
  for (int b = 1; b <= 5; ++b) write_cifar(dir / ("data_batch_" + std::to_string(b) + ".bin"), 3, 1, 10);
  write_cifar(dir / "test_batch.bin", 4, 1, 10);
  const Dataset train = load_cifar10_dir(dir.string(), Split::Train);
  EXPECT_EQ(train.size(), 15u);
  EXPECT_EQ(train.num_classes, 10);
  const Dataset test = load_cifar10_dir(dir.string(), Split::Test);
  ASSERT_EQ(test.size(), 4u);
  EXPECT_EQ(test.labels[3], 3);
  EXPECT_EQ(test.image(2)[5], static_cast<std::uint8_t>((2 * 7 + 5) % 256));  // R plane first
}

TEST(Dataset, Cifar100FineAndCoarseLabels) {
  const fs::path dir = test::fresh_dir("cifar-100-binary");
  write_cifar(dir / "test.bin", 5, 2, 20);
  const Dataset fine = load_cifar100_dir(dir.string(), Split::Test);
  const Dataset coarse = load_cifar100_dir(dir.string(), Split::Test, true);
  ASSERT_EQ(fine.size(), 5u);
  EXPECT_EQ(fine.num_classes, 100);
  EXPECT_EQ(coarse.num_classes, 20);
  EXPECT_EQ(fine.labels[2], 3);    // second label byte: (2 + 1) % 20
  EXPECT_EQ(coarse.labels[2], 2);  // first label byte
  EXPECT_EQ(fine.image(4)[0], static_cast<std::uint8_t>(28));
}

TEST(Dataset, CorruptCifarFilesNameFileAndRecord) {
  const fs::path dir = test::fresh_dir("corrupt");
  write_cifar(dir / "bad_label.bin", 3, 1, 10);
  {
    std::fstream f(dir / "bad_label.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2 * (kImageBytes + 1));
    f.put(static_cast<char>(12));  // label 12 in record 2
  }
  std::string msg = error_of([&] { read_cifar10_binary({(dir / "bad_label.bin").string()}); });
  EXPECT_NE(msg.find("record 2 has label 12"), std::string::npos) << msg;
  write_cifar(dir / "short.bin", 2, 1, 10);
  fs::resize_file(dir / "short.bin", 2 * (kImageBytes + 1) - 100);
  msg = error_of([&] { read_cifar10_binary({(dir / "short.bin").string()}); });
  EXPECT_NE(msg.find("short.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a whole number"), std::string::npos) << msg;
  msg = error_of([&] { load_cifar10_dir((dir / "absent").string(), Split::Test); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

TEST(Dataset, ImageFolderSortedClassesPngAndJpeg) {
  const fs::path dir = test::fresh_dir("folder");
  unsigned char px[32 * 32 * 3];
  for (int i = 0; i < 32 * 32 * 3; ++i) px[i] = static_cast<unsigned char>(i % 251);
  for (const char* cls : {"zebra", "ant", "mole"}) fs::create_directories(dir / "train" / cls);
  fs::create_directories(dir / "test" / "ant");
  stbi_write_png((dir / "train/zebra/a.png").c_str(), 32, 32, 3, px, 32 * 3);
  stbi_write_png((dir / "train/ant/b.png").c_str(), 32, 32, 3, px, 32 * 3);
  stbi_write_jpg((dir / "train/mole/c.jpg").c_str(), 32, 32, 3, px, 95);
  stbi_write_png((dir / "test/ant/d.png").c_str(), 32, 32, 3, px, 32 * 3);
  const Dataset d = load_image_folder(dir.string(), Split::Train);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"ant", "mole", "zebra"}));
  EXPECT_EQ(d.labels, (std::vector<int>{0, 1, 2}));
  // PNG is lossless: pixel (y=1, x=2) green = px[(1*32+2)*3+1].
  EXPECT_EQ(d.image(0)[1 * 1024 + 1 * 32 + 2], px[(1 * 32 + 2) * 3 + 1]);
  EXPECT_EQ(load_image_folder(dir.string(), Split::Test).size(), 1u);
  stbi_write_png((dir / "train/ant/big.png").c_str(), 16, 8, 3, px, 16 * 3);
  const std::string msg = error_of([&] { load_image_folder(dir.string(), Split::Train); });
  EXPECT_NE(msg.find("big.png: image is 16x8, expected 32x32"), std::string::npos) << msg;
  std::ofstream(dir / "train/ant/broken.png") << "not a png";
  fs::remove(dir / "train/ant/big.png");
  EXPECT_NE(error_of([&] { load_image_folder(dir.string(), Split::Train); }).find("broken.png: cannot decode"),
            std::string::npos);
}

TEST(Dataset, SyntheticIsSeededAndIndependentOfThreads) {
  omp_set_num_threads(1);
  const Dataset a = make_synthetic(64, 5);
  omp_set_num_threads(2);
  const Dataset b = make_synthetic(64, 5);
  const Dataset c = make_synthetic(64, 6);
  EXPECT_EQ(a.images, b.images);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(a.images, c.images);
  // A prefix of a larger set is the same images.
  const Dataset big = make_synthetic(100, 5);
  EXPECT_TRUE(std::equal(a.images.begin(), a.images.end(), big.images.begin()));
  // All classes appear in a modest sample.
  const Dataset s = make_synthetic(500, 1);
  std::vector<int> count(10, 0);
  for (int l : s.labels) ++count[l];
  for (int k = 0; k < 10; ++k) EXPECT_GT(count[k], 20) << "class " << k;
}

TEST(Dataset, DataSpecs) {
  EXPECT_EQ(load_dataset("synthetic:50", Split::Test).size(), 50u);
  EXPECT_NE(load_dataset("synthetic:50", Split::Test).images, load_dataset("synthetic:50", Split::Train).images);
  EXPECT_NE(error_of([] { load_dataset("imagenet:/x", Split::Test); }).find("unknown kind 'imagenet'"), std::string::npos);
  EXPECT_NE(error_of([] { load_dataset("synthetic:zero", Split::Test); }).find("synthetic:N"), std::string::npos);
}

}  // namespace
}  // namespace sxb
