// Data sets: CIFAR binary files and image folders built in the test, the
// synthetic set, and (label `data`) the real files in ../shared/data.
#include <gtest/gtest.h>
#include <omp.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
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
  EXPECT_NE(error_of([&] { load_image_folder(dir.string(), Split::Train); }).find("broken.png: not a PNG"),
            std::string::npos);
}

// A 32x32 PNG whose pixels depend on `seed`, so images can be told apart.
void write_png(const fs::path& file, int seed) {
  fs::create_directories(file.parent_path());
  unsigned char px[32 * 32 * 3];
  for (int i = 0; i < 32 * 32 * 3; ++i) px[i] = static_cast<unsigned char>((i * 7 + seed * 13) % 256);
  ASSERT_TRUE(stbi_write_png(file.c_str(), 32, 32, 3, px, 32 * 3));
}

TEST(ImageFolder, TestClassesTakeTheTrainingLabelOfTheirName) {
  const fs::path dir = test::fresh_dir("folder-names");
  write_png(dir / "train/ant/a.png", 1);
  write_png(dir / "train/mole/b.png", 2);
  write_png(dir / "train/zebra/c.png", 3);
  write_png(dir / "test/zebra/d.png", 4);  // ant and mole absent from test/: zebra keeps label 2
  const Dataset test = load_image_folder(dir.string(), Split::Test);
  EXPECT_EQ(test.num_classes, 3);
  EXPECT_EQ(test.class_names, (std::vector<std::string>{"ant", "mole", "zebra"}));
  EXPECT_EQ(test.labels, (std::vector<int>{2}));
  write_png(dir / "test/yak/e.png", 5);
  const std::string msg = error_of([&] { load_image_folder(dir.string(), Split::Test); });
  EXPECT_NE(msg.find("yak: class 'yak' is not a class of the training split"), std::string::npos) << msg;
}

TEST(ImageFolder, EverythingThatIsNotAClassOfImagesIsAnErrorNamingThePath) {
  const fs::path dir = test::fresh_dir("folder-strict");
  write_png(dir / "train/ant/a.png", 1);
  write_png(dir / "test/ant/b.png", 2);
  std::ofstream(dir / "train/ant/.DS_Store") << "x";  // hidden: skipped
  EXPECT_EQ(load_image_folder(dir.string(), Split::Train).size(), 1u);
  const auto error = [&](Split split) { return error_of([&] { load_image_folder(dir.string(), split); }); };

  fs::create_directories(dir / "train/empty");
  EXPECT_NE(error(Split::Train).find("train/empty: empty class folder"), std::string::npos) << error(Split::Train);
  EXPECT_NE(error(Split::Test).find("train/empty: empty class folder"), std::string::npos) << error(Split::Test);
  fs::remove(dir / "train/empty");

  fs::create_directories(dir / "train/docs");
  std::ofstream(dir / "train/docs/readme.txt") << "not an image";
  EXPECT_NE(error(Split::Train).find("docs/readme.txt: not an image"), std::string::npos) << error(Split::Train);
  fs::remove_all(dir / "train/docs");

  std::ofstream(dir / "train/labels.csv") << "x";
  EXPECT_NE(error(Split::Train).find("labels.csv: not a class folder"), std::string::npos) << error(Split::Train);
  fs::remove(dir / "train/labels.csv");

  std::ofstream(dir / "train/ant/c.jpg") << "garbage";
  EXPECT_NE(error(Split::Train).find("c.jpg: cannot decode JPEG"), std::string::npos) << error(Split::Train);
  fs::remove(dir / "train/ant/c.jpg");

  fs::remove_all(dir / "test");  // train/ without test/
  EXPECT_NE(error(Split::Train).find("has train/ but no test/"), std::string::npos) << error(Split::Train);
}

TEST(ImageFolder, PngWithABadChunkCrcIsAnError) {
  const fs::path dir = test::fresh_dir("folder-crc");
  write_png(dir / "train/ant/a.png", 1);
  write_png(dir / "test/ant/b.png", 2);
  EXPECT_EQ(load_image_folder(dir.string(), Split::Train).size(), 1u);
  std::string bytes;
  {
    std::ifstream in(dir / "train/ant/a.png", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t idat = bytes.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  bytes[idat + 10] = static_cast<char>(bytes[idat + 10] ^ 0x01);  // one bit of the compressed pixels
  std::ofstream(dir / "train/ant/a.png", std::ios::binary) << bytes;
  std::string msg = error_of([&] { load_image_folder(dir.string(), Split::Train); });
  EXPECT_NE(msg.find("a.png: corrupt PNG (CRC mismatch in chunk"), std::string::npos) << msg;
  std::ofstream(dir / "train/ant/a.png", std::ios::binary) << bytes.substr(0, idat + 20);  // truncated
  msg = error_of([&] { load_image_folder(dir.string(), Split::Train); });
  EXPECT_NE(msg.find("a.png: truncated PNG"), std::string::npos) << msg;
}

// The chunk CRCs are right but the zlib stream's Adler-32 is not (a file
// damaged and re-checksummed): stb_image would decode it; it is an error.
TEST(ImageFolder, PngWithABadAdler32IsAnError) {
  const fs::path dir = test::fresh_dir("folder-adler");
  write_png(dir / "train/ant/a.png", 1);
  write_png(dir / "test/ant/b.png", 2);
  std::string bytes;
  {
    std::ifstream in(dir / "train/ant/a.png", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t type = bytes.find("IDAT");
  ASSERT_NE(type, std::string::npos);
  const auto u8 = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])); };
  const std::uint32_t length = (u8(type - 4) << 24) | (u8(type - 3) << 16) | (u8(type - 2) << 8) | u8(type - 1);
  const std::size_t crc_at = type + 4 + length;
  bytes[crc_at - 1] = static_cast<char>(bytes[crc_at - 1] ^ 0x01);  // the Adler-32's last byte
  const auto* typed = reinterpret_cast<const Bytef*>(bytes.data() + type);
  const std::uint32_t crc = static_cast<std::uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), typed, length + 4));
  for (int b = 0; b < 4; ++b) bytes[crc_at + b] = static_cast<char>((crc >> (24 - 8 * b)) & 0xff);
  std::ofstream(dir / "train/ant/a.png", std::ios::binary) << bytes;
  const std::string msg = error_of([&] { load_image_folder(dir.string(), Split::Train); });
  EXPECT_NE(msg.find("a.png: corrupt PNG (image data: incorrect data check)"), std::string::npos) << msg;
}

TEST(ImageFolder, ASymbolicLinkLoopNamesThePath) {
  const fs::path dir = test::fresh_dir("folder-loop");
  write_png(dir / "train/ant/a.png", 1);
  write_png(dir / "test/ant/b.png", 2);
  fs::create_symlink(dir / "train/loop", dir / "train/loop");  // points at itself
  const std::string msg = error_of([&] { load_image_folder(dir.string(), Split::Train); });
  EXPECT_NE(msg.find((dir / "train/loop").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("Too many levels of symbolic links"), std::string::npos) << msg;
}

TEST(ImageFolder, WithoutSplitsEveryFifthImageIsHeldOutForTest) {
  const fs::path dir = test::fresh_dir("folder-holdout");
  int seed = 0;
  for (const char* cls : {"ant", "mole"})
    for (int k = 0; k < 11; ++k) write_png(dir / cls / fmt::format("img{:02d}.png", k), ++seed);
  const Dataset train = load_image_folder(dir.string(), Split::Train);
  const Dataset test = load_image_folder(dir.string(), Split::Test);
  EXPECT_EQ(train.size(), 18u);  // per class: 11 images, indices 4 and 9 held out
  EXPECT_EQ(test.size(), 4u);
  EXPECT_EQ(test.labels, (std::vector<int>{0, 0, 1, 1}));
  for (std::size_t a = 0; a < test.size(); ++a)
    for (std::size_t b = 0; b < train.size(); ++b)
      EXPECT_FALSE(std::equal(test.image(a), test.image(a) + kImageBytes, train.image(b)))
          << "test image " << a << " is training image " << b;
  const fs::path few = test::fresh_dir("folder-few");
  write_png(few / "ant/a.png", 1);
  EXPECT_NE(error_of([&] { load_image_folder(few.string(), Split::Test); }).find("none is held out"),
            std::string::npos);
}

TEST(Dataset, CifarFilesAreCheckedWhole) {
  const fs::path dir = test::fresh_dir("cifar-checks");
  std::ofstream(dir / "empty.bin").close();
  std::string msg = error_of([&] { read_cifar10_binary({(dir / "empty.bin").string()}); });
  EXPECT_NE(msg.find("empty.bin: empty file"), std::string::npos) << msg;
  fs::create_directories(dir / "folder.bin");
  msg = error_of([&] { read_cifar10_binary({(dir / "folder.bin").string()}); });
  EXPECT_NE(msg.find("folder.bin: not a regular file"), std::string::npos) << msg;
  // CIFAR-100: the fine label is checked even when the coarse one is used.
  write_cifar(dir / "c100.bin", 3, 2, 20);
  {
    std::fstream f(dir / "c100.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1 * (kImageBytes + 2) + 1);
    f.put(static_cast<char>(150));  // fine label 150 in record 1
  }
  msg = error_of([&] { read_cifar100_binary({(dir / "c100.bin").string()}, true); });
  EXPECT_NE(msg.find("record 1 has fine label 150, expected 0..99"), std::string::npos) << msg;
  // A class-name file with the wrong number of names is an error, not dropped.
  const fs::path c10 = test::fresh_dir("cifar-names");
  write_cifar(c10 / "test_batch.bin", 2, 1, 10);
  std::ofstream(c10 / "batches.meta.txt") << "airplane\nautomobile\n";
  msg = error_of([&] { load_cifar10_dir(c10.string(), Split::Test); });
  EXPECT_NE(msg.find("batches.meta.txt: 2 class names, expected 10"), std::string::npos) << msg;
}

TEST(Dataset, SyntheticCountIsAPlainInteger) {
  for (const char* spec : {"synthetic:1e9", "synthetic:5x", "synthetic:0", "synthetic:-3", "synthetic:10000001",
                           "synthetic: 5", "synthetic:99999999999", "synthetic:"})
    EXPECT_NE(error_of([&] { load_dataset(spec, Split::Test); }).find("N an integer in 1..10000000"),
              std::string::npos)
        << spec;
  EXPECT_EQ(load_dataset("synthetic:7", Split::Test).size(), 7u);
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

TEST(Dataset, RelativeFoldersAreTakenFromTheDataRoot) {
  EXPECT_EQ(resolve_data_spec("folder:cifar10-jpeg", "/data"), "folder:/data/cifar10-jpeg");
  EXPECT_EQ(resolve_data_spec("cifar100:c/../cifar-100-binary", "/d/"), "cifar100:/d/cifar-100-binary");
  EXPECT_EQ(resolve_data_spec("folder:/abs/x", "/data"), "folder:/abs/x");
  EXPECT_EQ(resolve_data_spec("folder:rel", ""), "folder:rel");
  EXPECT_EQ(resolve_data_spec("synthetic:50", "/data"), "synthetic:50");
  EXPECT_EQ(resolve_data_spec("synthetic", "/data"), "synthetic");
  // The resolved spec loads what the spec names, from the root.
  const fs::path root = test::fresh_dir("data-root");
  fs::create_directories(root / "c10");
  write_cifar(root / "c10" / "test_batch.bin", 3, 1, 10);
  EXPECT_EQ(load_dataset(resolve_data_spec("cifar10:c10", root.string()), Split::Test).size(), 3u);
}

TEST(Dataset, FirstImagesOfEachClassInOrder) {
  const Dataset d = load_dataset("synthetic:200", Split::Train);
  const Dataset sub = first_per_class(d, 3);
  ASSERT_EQ(sub.num_classes, d.num_classes);
  std::vector<int> seen(static_cast<std::size_t>(d.num_classes), 0);
  std::size_t next = 0;  // the subset is the full set with the later images of each class left out
  for (std::size_t k = 0; k < d.size(); ++k) {
    if (seen[static_cast<std::size_t>(d.labels[k])]++ >= 3) continue;
    ASSERT_LT(next, sub.size());
    EXPECT_EQ(sub.labels[next], d.labels[k]);
    EXPECT_TRUE(std::equal(d.image(k), d.image(k) + kImageBytes, sub.image(next))) << k;
    ++next;
  }
  EXPECT_EQ(next, sub.size());
  EXPECT_EQ(sub.size(), static_cast<std::size_t>(3 * d.num_classes));
  EXPECT_EQ(first_per_class(d, 100000).size(), d.size());  // small classes keep every image
  EXPECT_NE(error_of([&] { first_per_class(d, 0); }).find("at least 1"), std::string::npos);
}

}  // namespace
}  // namespace sxb
