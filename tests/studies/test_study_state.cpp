// scripts/study_state.py: the study's dense models and training checkpoints
// saved from a model store into parts with a manifest, and restored into a
// fresh cache byte for byte; a finished model replaces its checkpoint; a
// damaged or missing part stops restore with a one-line error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/test_helpers.h"

namespace sxb {
namespace {

namespace fs = std::filesystem;

void write_random(const fs::path& p, std::size_t bytes, unsigned seed) {
  std::mt19937 rng(seed);
  std::string data(bytes, '\0');
  for (char& c : data) c = static_cast<char>(rng() & 0xff);
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

class StudyState : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("python3 --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "python3 is not installed";
    dir_ = test::fresh_dir("study_state");
    state_ = dir_ / "state";
  }
  // Exit status of `study_state.py ACTION --cache CACHE`; stderr goes to err_.
  int state(const std::string& action, const fs::path& cache) {
    const std::string cmd = "python3 " + std::string(SXB_SOURCE_DIR) + "/scripts/study_state.py " + action +
                            " --cache " + cache.string() + " --state " + state_.string() + " --part-mib 1 > /dev/null 2> " +
                            (dir_ / "stderr").string();
    const int rc = std::system(cmd.c_str());
    err_ = test::read_text(dir_ / "stderr");
    return rc;
  }
  nlohmann::json manifest() { return nlohmann::json::parse(test::read_text(state_ / "MANIFEST.json"))["files"]; }
  fs::path models(const std::string& cache) { return dir_ / cache / "sweep-models"; }

  fs::path dir_, state_;
  std::string err_;
};

const std::string kCkpt = "train-vgg11-0123456789abcdef.ckpt.safetensors";
const std::string kModel = "train-vgg11-0123456789abcdef.safetensors";

TEST_F(StudyState, CheckpointRoundTripsInParts) {
  write_random(models("a") / kCkpt, 2'500'000, 1);
  write_random(models("a") / "prune-vgg11-fedcba9876543210.safetensors", 1000, 2);  // cheap to remake: not kept
  ASSERT_EQ(state("save", dir_ / "a"), 0) << err_;
  const nlohmann::json files = manifest();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[kCkpt]["size"], 2'500'000);
  EXPECT_EQ(files[kCkpt]["parts"].size(), 3u);  // 1 MiB parts
  for (const auto& part : files[kCkpt]["parts"]) EXPECT_LE(fs::file_size(state_ / part.get<std::string>()), 1u << 20);

  ASSERT_EQ(state("restore", dir_ / "b"), 0) << err_;
  EXPECT_EQ(test::read_text(models("b") / kCkpt), test::read_text(models("a") / kCkpt));
  EXPECT_FALSE(fs::exists(models("b") / "prune-vgg11-fedcba9876543210.safetensors"));

  // A second save of an unchanged store rewrites nothing; a newer checkpoint replaces the parts.
  const auto before = fs::last_write_time(state_ / files[kCkpt]["parts"][0].get<std::string>());
  ASSERT_EQ(state("save", dir_ / "a"), 0) << err_;
  EXPECT_EQ(fs::last_write_time(state_ / files[kCkpt]["parts"][0].get<std::string>()), before);
  write_random(models("a") / kCkpt, 1'200'000, 3);
  ASSERT_EQ(state("save", dir_ / "a"), 0) << err_;
  EXPECT_EQ(manifest()[kCkpt]["parts"].size(), 2u);
  EXPECT_FALSE(fs::exists(state_ / (kCkpt + ".part002")));
}

TEST_F(StudyState, FinishedModelReplacesItsCheckpoint) {
  write_random(models("a") / kCkpt, 300'000, 1);
  ASSERT_EQ(state("save", dir_ / "a"), 0) << err_;
  fs::remove(models("a") / kCkpt);
  write_random(models("a") / kModel, 200'000, 4);
  ASSERT_EQ(state("save", dir_ / "a"), 0) << err_;
  const nlohmann::json files = manifest();
  EXPECT_EQ(files.size(), 1u);
  EXPECT_TRUE(files.contains(kModel));
  EXPECT_FALSE(fs::exists(state_ / (kCkpt + ".part000")));

  // Restore fills only what the cache lacks.
  write_random(models("b") / kModel, 10, 5);
  ASSERT_EQ(state("restore", dir_ / "b"), 0) << err_;
  EXPECT_EQ(fs::file_size(models("b") / kModel), 10u);
  ASSERT_EQ(state("restore", dir_ / "c"), 0) << err_;
  EXPECT_EQ(test::read_text(models("c") / kModel), test::read_text(models("a") / kModel));

  // A save from a cache that lost its files (a fresh machine) keeps the saved model.
  ASSERT_EQ(state("save", dir_ / "empty"), 0) << err_;
  EXPECT_TRUE(manifest().contains(kModel));
}

TEST_F(StudyState, DamagedOrMissingPartStopsRestore) {
  write_random(models("a") / kModel, 1'500'000, 6);
  ASSERT_EQ(state("save", dir_ / "a"), 0) << err_;
  const fs::path part = state_ / (kModel + ".part001");
  std::string bytes = test::read_text(part);
  bytes[100] = static_cast<char>(bytes[100] ^ 1);
  std::ofstream(part, std::ios::binary) << bytes;
  EXPECT_NE(state("restore", dir_ / "b"), 0);
  EXPECT_NE(err_.find("MANIFEST.json"), std::string::npos) << err_;
  EXPECT_NE(err_.find(kModel), std::string::npos) << err_;
  EXPECT_EQ(std::count(err_.begin(), err_.end(), '\n'), 1) << err_;
  EXPECT_TRUE(fs::is_empty(models("b")));  // nothing half-written

  fs::remove(part);
  EXPECT_NE(state("restore", dir_ / "b"), 0);
  EXPECT_NE(err_.find(part.filename().string()), std::string::npos) << err_;
  EXPECT_EQ(std::count(err_.begin(), err_.end(), '\n'), 1) << err_;
  EXPECT_TRUE(fs::is_empty(models("b")));

  std::ofstream(state_ / "MANIFEST.json") << "{ not json";
  EXPECT_NE(state("restore", dir_ / "b"), 0);
  EXPECT_NE(err_.find("not a manifest"), std::string::npos) << err_;
}

}  // namespace
}  // namespace sxb
