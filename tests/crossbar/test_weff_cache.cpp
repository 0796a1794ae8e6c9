// The W_eff cache trusts nothing it reads: an entry edited in place (flipped
// bytes, a sign-flipped or NaN layer), an entry of another configuration
// copied over, or one that cannot be read or written gives a warning naming
// the file, and the evaluation reports what a run without the cache reports.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "engine/crossbar/wct.h"
#include "engine/crossbar/weff_cache.h"
#include "engine/evaluation/effective_model.h"
#include "engine/evaluation/crossbar_eval.h"
#include "models/io/safetensors.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

namespace fs = std::filesystem;

struct CachedRun {
  nlohmann::json report;  // without timings and the cache fields
  bool hit = false;
  std::string cache_file;
  std::vector<std::string> warnings;  // the log's warning lines
};

class WeffCacheTrust : public testing::Test {
 protected:
  void SetUp() override {
    vc_.width = 0.0625;
    model_ = std::make_unique<nn::Vgg>(vc_, *backend_);
    model_->init(7);
    test_ = load_dataset("synthetic:64", Split::Test);
    fresh_ = run(crossbar(2.5), "");
    ASSERT_FALSE(fresh_.hit);
    ASSERT_TRUE(fresh_.warnings.empty());
  }

  static CrossbarConfig crossbar(double r_wire) {
    CrossbarConfig c = crossbar_preset("default");
    c.tile_rows = c.tile_cols = 16;
    c.res = TileResistances{0.0, 0.0, r_wire, r_wire};
    return c;
  }

  CachedRun run(const CrossbarConfig& c, const std::string& cache_dir) {
    CrossbarEvalOptions o;
    o.backend = Backend::Cpu;
    o.crossbar = c;
    o.cache_dir = cache_dir;
    CachedRun r;
    o.log = [&r](const std::string& line) {
      if (line.starts_with("warning: ")) r.warnings.push_back(line);
    };
    const CrossbarEvalResult e = evaluate_on_crossbars(*model_, test_, Normalization{}, o);
    r.hit = e.report.cache_hit;
    r.cache_file = e.report.cache_file;
    r.report = to_json(e.report);
    for (const char* volatile_key : {"seconds", "schedule", "cache"}) r.report.erase(volatile_key);
    return r;
  }

  // A run on `dir` after `damage` gives one warning containing `needle` and
  // the file, the fresh report, and leaves an entry that is a silent hit.
  void expect_recomputed(const std::string& dir, const std::string& needle) {
    const CachedRun again = run(crossbar(2.5), dir);
    EXPECT_FALSE(again.hit);
    EXPECT_EQ(again.report, fresh_.report);
    ASSERT_EQ(again.warnings.size(), 1u);
    EXPECT_NE(again.warnings[0].find(needle), std::string::npos) << again.warnings[0];
    EXPECT_NE(again.warnings[0].find(again.cache_file), std::string::npos) << again.warnings[0];
    const CachedRun after = run(crossbar(2.5), dir);
    EXPECT_TRUE(after.hit);
    EXPECT_TRUE(after.warnings.empty());
    EXPECT_EQ(after.report, fresh_.report);
  }

  // A cached entry for crossbar(2.5) in a fresh folder; its path.
  std::string cached(const std::string& dir) {
    const CachedRun first = run(crossbar(2.5), dir);
    EXPECT_FALSE(first.hit);
    EXPECT_EQ(first.report, fresh_.report);
    const CachedRun second = run(crossbar(2.5), dir);
    EXPECT_TRUE(second.hit);
    EXPECT_EQ(second.report, fresh_.report);
    return second.cache_file;
  }

  // Rewrites the entry with `edit` applied to its tensors, the metadata (and so
  // the recorded checksum) unchanged: an edit in place of the same size.
  template <class Edit>
  static void edit_tensors(const std::string& path, Edit edit) {
    SafetensorsFile f = read_safetensors(path);
    const auto size = fs::file_size(path);
    edit(f.tensors.begin()->second.data);
    write_safetensors(path, f);
    ASSERT_EQ(fs::file_size(path), size);
  }

  std::unique_ptr<nn::Backend> backend_ = nn::make_cpu_backend();
  nn::VggConfig vc_;
  std::unique_ptr<nn::Vgg> model_;
  Dataset test_;
  CachedRun fresh_;
};

TEST_F(WeffCacheTrust, FlippedBytesAreRecomputed) {
  const std::string dir = test::fresh_dir("weff-flipped").string();
  const std::string path = cached(dir);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-6, std::ios::end);
    f.write("\x55\xaa\x55\xaa", 4);
  }
  expect_recomputed(dir, "checksum");
}

TEST_F(WeffCacheTrust, SignFlippedLayerIsRecomputed) {
  const std::string dir = test::fresh_dir("weff-sign").string();
  edit_tensors(cached(dir), [](std::vector<float>& w) {
    for (float& x : w) x = -x;
  });
  expect_recomputed(dir, "checksum");
}

TEST_F(WeffCacheTrust, NanLayerIsRecomputed) {
  const std::string dir = test::fresh_dir("weff-nan").string();
  edit_tensors(cached(dir), [](std::vector<float>& w) {
    for (float& x : w) x = std::numeric_limits<float>::quiet_NaN();
  });
  expect_recomputed(dir, "checksum");
}

TEST_F(WeffCacheTrust, NanWithAValidChecksumIsRecomputed) {
  // As if the solve had produced NaN: written with a matching checksum.
  const std::string dir = test::fresh_dir("weff-nan-stored").string();
  const std::string path = cached(dir);
  std::vector<MappedLayer> layers = mapped_layers(*model_);
  const CrossbarConfig c = crossbar(2.5);
  assign_mapping_scales(layers, c, std::nullopt);
  const NetworkLayout layout = dense_network_layout(layers, 16, 16);
  WeffCacheEntry entry = weff_cache_entry(dir, weff_cache_identity(layers, layout, c, SchedulerOptions{}));
  ASSERT_EQ(entry.path, path);
  auto eff = load_weff_cache(entry, layout);
  ASSERT_TRUE(eff);
  (*eff)[1].w_eff[5] = std::numeric_limits<float>::infinity();
  ASSERT_TRUE(store_weff_cache(entry, *eff));
  expect_recomputed(dir, "inf at flat index 5");
}

TEST_F(WeffCacheTrust, EntryOfAnotherConfigurationCopiedOverIsRecomputed) {
  const std::string dir = test::fresh_dir("weff-other").string();
  const std::string path = cached(dir);
  const CachedRun other = run(crossbar(28.0), dir);
  ASSERT_NE(other.cache_file, path);
  ASSERT_NE(other.report["nf"], fresh_.report["nf"]) << "the two configurations must differ";
  fs::copy_file(other.cache_file, path, fs::copy_options::overwrite_existing);
  expect_recomputed(dir, "another configuration (differs in crossbar.r_wire_");
}

TEST_F(WeffCacheTrust, UncreatableFolderIsAWarningAndTheRunGoesOn) {
  const fs::path file = test::fresh_dir("weff-uncreatable") / "a-file";
  std::ofstream(file) << "x";
  const CachedRun r = run(crossbar(2.5), (file / "cache").string());
  EXPECT_EQ(r.report, fresh_.report);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("not written"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find(r.cache_file), std::string::npos) << r.warnings[0];
}

TEST_F(WeffCacheTrust, UnreadableAndUnwritableEntryIsAWarningAndTheRunGoesOn) {
  // The entry's name taken by a folder: it can be neither read nor replaced.
  const std::string dir = test::fresh_dir("weff-unwritable").string();
  const std::string path = cached(dir);
  fs::remove(path);
  fs::create_directories(fs::path(path) / "x");
  const CachedRun r = run(crossbar(2.5), dir);
  EXPECT_FALSE(r.hit);
  EXPECT_EQ(r.report, fresh_.report);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find("unreadable"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[1].find("not written"), std::string::npos) << r.warnings[1];
}

TEST(WeffCacheKey, SolverIsPartOfTheIdentity) {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig vc;
  vc.width = 0.0625;
  nn::Vgg model(vc, *backend);
  model.init(1);
  const std::vector<MappedLayer> layers = mapped_layers(model);
  const NetworkLayout layout = dense_network_layout(layers, 16, 16);
  SchedulerOptions cpu, reference;
  reference.backend = Backend::Reference;
  EXPECT_NE(weff_cache_key(layers, layout, CrossbarConfig{}, cpu), weff_cache_key(layers, layout, CrossbarConfig{}, reference));
  const nlohmann::json id = weff_cache_identity(layers, layout, CrossbarConfig{}, reference);
  EXPECT_EQ(id["request"]["solver"], "reference");
  EXPECT_EQ(weff_cache_entry("d", id).path, weff_cache_path("d", weff_cache_key(layers, layout, CrossbarConfig{}, reference)));
}

}  // namespace
}  // namespace sxb
