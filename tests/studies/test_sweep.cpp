// Sweeps: grid expansion and stable ids, shards, the JSON-lines
// results (torn records, locks), tables and plots, and a small sweep run end
// to end with resumption and model reuse.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/pruning/pruning_run.h"
#include "engine/data/dataset.h"
#include "engine/io/json_file.h"
#include "tests/test_helpers.h"
#include "engine/report/sweep_report.h"
#include "engine/studies/sweep.h"
#include "engine/training/train.h"
#include "engine/studies/sweep_results.h"
#include "engine/studies/sweep_run.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

Sweep parse(const std::string& text) { return sweep_from_json(ojson::parse(text), "s.json"); }

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("sxb_sweep_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(Sweep, GridOrderLastKeyFastest) {
  const Sweep s = parse(R"({"base": {"weights": null},
    "grid": {"tile": [16, 32, 64], "crossbar.r_wire": [0.5, 2.5]}})");
  ASSERT_EQ(s.points.size(), 6u);
  EXPECT_EQ(s.points[0].varied.dump(), R"({"tile":16,"crossbar.r_wire":0.5})");
  EXPECT_EQ(s.points[1].varied.dump(), R"({"tile":16,"crossbar.r_wire":2.5})");
  EXPECT_EQ(s.points[5].varied.dump(), R"({"tile":64,"crossbar.r_wire":2.5})");
  EXPECT_EQ(s.points[5].config.crossbar.tile_rows, 64);
  EXPECT_EQ(s.points[5].config.crossbar.res.r_wire_col, 2.5);
  std::set<std::string> ids;
  for (const SweepPoint& p : s.points) ids.insert(p.id);
  EXPECT_EQ(ids.size(), 6u);
}

TEST(Sweep, IdsDependOnTheNormalisedConfigurationOnly) {
  // Key order, explicit defaults and short forms do not change the id.
  const Sweep a = parse(R"({"base": {"model": "vgg11", "crossbar": {"r_wire": 2.5, "tile": 32}}, "grid": {}})");
  const Sweep b = parse(R"({"base": {"tile": "32x32", "train": {"epochs": 10, "seed": 1},
    "crossbar": {"r_wire_col": 2.5, "preset": "default", "r_wire_row": 2.5}, "width": 1.0}, "grid": {}})");
  ASSERT_EQ(a.points.size(), 1u);
  EXPECT_EQ(a.points[0].id, b.points[0].id);
  EXPECT_EQ(a.points[0].id.size(), 16u);
  // A preset's name and the values it stands for are the same point; finetune_lr 0 means lr.
  const Sweep e = parse(R"({"base": {"crossbar": {"preset": "ideal", "tile": 32}}, "grid": {}})");
  const Sweep f = parse(R"({"base": {"crossbar": {"r_source": 0, "r_sink": 0, "r_wire": 0, "tile": 32}}, "grid": {}})");
  EXPECT_EQ(e.points[0].id, f.points[0].id);
  EXPECT_EQ(parse(R"({"base": {"prune": {"sparsity": 0.5, "lr": 0.01}}, "grid": {}})").points[0].id,
            parse(R"({"base": {"prune": {"sparsity": 0.5, "lr": 0.01, "finetune_lr": 0.01}}, "grid": {}})").points[0].id);
  // A weights file is identified by its content, not by how its path is spelled.
  const fs::path dir = fresh_dir("ids");
  { std::ofstream(dir / "m.safetensors") << "weights"; }
  const std::string base = R"({"base": {"weights": ")";
  const Sweep rel = sweep_from_json(ojson::parse(base + R"(m.safetensors"}, "grid": {}})"), "s", dir.string());
  const Sweep abs = sweep_from_json(ojson::parse(base + (dir / "." / "m.safetensors").string() + R"("}, "grid": {}})"), "s");
  EXPECT_EQ(rel.points[0].id, abs.points[0].id);
  EXPECT_EQ(rel.points[0].config.weights, (dir / "m.safetensors").string());
  EXPECT_EQ(sweep_from_json(ojson::parse(base + R"(m.safetensors", "width": 0.5}, "grid": {}})"), "s", dir.string())
                .points[0].id,
            rel.points[0].id);  // the file fixes its width
  { std::ofstream(dir / "m.safetensors") << "other weights"; }
  EXPECT_NE(sweep_from_json(ojson::parse(base + R"(m.safetensors"}, "grid": {}})"), "s", dir.string()).points[0].id,
            rel.points[0].id);
  fs::remove_all(dir);
  // The pruning batch is part of the point.
  EXPECT_EQ(parse(R"({"base": {"prune": {"sparsity": 0.5}}, "grid": {"prune.batch": [32, 64]}})").points.size(), 2u);
  const Sweep c = parse(R"({"base": {"crossbar": {"r_wire": 2.5, "tile": 32}, "train": {"seed": 2}}, "grid": {}})");
  EXPECT_NE(a.points[0].id, c.points[0].id);
  // The same point in two sweeps has the same id.
  const Sweep d = parse(R"({"base": {"tile": 32}, "grid": {"crossbar.r_wire": [1, 2.5]}})");
  EXPECT_EQ(d.points[1].id, a.points[0].id);
}

TEST(Sweep, DefaultsAreThoseOfTrainAndPrune) {
  // A point embeds TrainConfig and PruneRunConfig: an empty block is the commands' defaults.
  const SweepPoint p = parse(R"({"base": {"prune": {"sparsity": 0.5}}, "grid": {}})").points[0];
  const TrainConfig tc;
  TrainConfig t = p.config.train_config(tc.out);
  t.data = tc.data;
  EXPECT_EQ(t, tc);
  PruneRunConfig pc;
  pc.spec.sparsity = 0.5;
  pc.finetune_lr = pc.lr;  // 0 means lr: stored as lr
  EXPECT_EQ(*p.config.prune, pc);
  EXPECT_EQ(p.config.width, tc.width);
  EXPECT_NE(error_of(R"({"base": {"prune": {"method": "cf"}}, "grid": {}})").find("prune.sparsity is required"),
            std::string::npos);
}

TEST(Sweep, PruneDefaultsToTheCrossbarTile) {
  const Sweep s = parse(R"({"base": {"tile": 32, "prune": {"method": "xrs", "sparsity": 0.75}},
    "grid": {"prune.sparsity": [0.5, 0.9]}})");
  ASSERT_TRUE(s.points[0].config.prune.has_value());
  EXPECT_EQ(s.points[0].config.prune->spec.tile_rows, 32);
  EXPECT_EQ(s.points[0].config.prune->spec.method, PruneMethod::RowSegments);
  EXPECT_EQ(s.points[1].config.prune->spec.sparsity, 0.9);
  EXPECT_EQ(s.points[0].config.to_json()["prune"]["tile"], "32x32");
}

TEST(Sweep, BadInputsNameTheField) {
  EXPECT_NE(error_of(R"({"base": {"modle": "vgg11"}, "grid": {}})").find("modle: unknown key"), std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grid": {"crossbar.r_wir": [1]}})").find("\"r_wir\": unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grid": {"crossbar.r_wire": [-1]}})").find("r_wire"), std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grid": {"tile": []}})").find("non-empty list"), std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grid": {"tile": 32}})").find("non-empty list"), std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grid": {"width": ["a"]}})").find("width must be a number"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grid": {"prune.sparsity": [1.5]}})").find("prune.sparsity must be in (0, 1)"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"tile": 64, "prune": {"method": "xcs", "sparsity": 0.5, "tile": 32}}, "grid": {}})")
                .find("differs from the crossbar tile"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"weights": "/nonexistent/m.safetensors"}, "grid": {}})").find("cannot open"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"train": {"schedule": "linear"}}, "grid": {}})").find("train.schedule 'linear'"),
            std::string::npos);
  // Pruning settings are checked before anything runs, naming the point.
  EXPECT_NE(error_of(R"({"base": {"prune": {"sparsity": 0.5, "lambda": -1}}, "grid": {}})").find("point 0"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"prune": {"sparsity": 0.5, "wct_kappa": 0.5, "finetune_epochs": 0}}, "grid": {}})")
                .find("prune.finetune_epochs"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"tile": 4294967328}, "grid": {}})").find("[1, 1048576]"), std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"crossbar": {"tile": 0}}, "grid": {}})").find("crossbar.tile"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grid": {"tile": [32, "32x32"]}})").find("same configuration"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grids": {}})").find("\"grids\": unknown key"), std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"model": "vgg19"}, "grid": {}})").find("vgg11"), std::string::npos);
  // The strict rules of the CLI: an explicit width 0 or a null tile is no default.
  EXPECT_NE(error_of(R"({"base": {"width": 0}, "grid": {}})").find("width must be in (0, 16]"), std::string::npos);
  EXPECT_NE(error_of(R"({"base": {}, "grid": {"width": [0.5, 0]}})").find("width must be in (0, 16]"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"tile": null}, "grid": {}})").find("tile must be N or \"RxC\" (got null"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"crossbar": {"tile": null}}, "grid": {}})").find("crossbar.tile must be"),
            std::string::npos);
  EXPECT_EQ(error_of(R"({"base": {"width": 0.5}, "grid": {}})"), "");
  // The name is one folder name: nothing outside the results folder.
  for (const char* name : {"../../evil", "a/b", ".hidden", "", "a b"})
    EXPECT_NE(error_of(std::string(R"({"name": ")") + name + R"(", "base": {}, "grid": {}})").find("\"name\""),
              std::string::npos)
        << name;
  EXPECT_EQ(parse(R"({"name": "wires-tiles_2.b", "base": {}, "grid": {}})").name, "wires-tiles_2.b");
}

TEST(Sweep, DeeplyNestedFilesAreAClearError) {
  // 100,000 levels: copying or printing that recursively would overflow the stack.
  const fs::path d = fresh_dir("deep");
  const int depth = 100000;
  const std::string deep = std::string(depth, '[') + std::string(depth, ']');
  const std::string path = (d / "deep.json").string();
  std::ofstream(path) << R"({"base": {"train": )" << deep << R"(}, "grid": {"tile": [32]}})";
  std::string e = test::error_of([&] { read_sweep(path); });
  EXPECT_NE(e.find(path + ": nested deeper than 64 levels"), std::string::npos) << e.substr(0, 300);
  // A grid value as deep, and a record line of a results file: the record is skipped as damaged.
  std::ofstream(path) << R"({"grid": {"tile": [)" << deep << "]}}";
  e = test::error_of([&] { read_sweep(path); });
  EXPECT_NE(e.find("nested deeper than 64 levels"), std::string::npos) << e.substr(0, 300);
  fs::create_directories(d / "out");
  std::ofstream(d / "out" / "results.0-of-1.jsonl") << R"({"id": "a", "x": )" << deep << "}\n"
                                                     << R"({"id": "b", "index": 1})" << "\n";
  const SweepRecords records = read_sweep_records((d / "out").string());
  ASSERT_EQ(records.records.size(), 1u);
  EXPECT_EQ(records.records[0]["id"], "b");
  EXPECT_EQ(records.skipped, 1u);
  // Nesting within the limit is fine.
  EXPECT_NO_THROW(parse_json_text(std::string(60, '[') + std::string(60, ']'), "x"));
  fs::remove_all(d);
}

TEST(Sweep, ExampleFilesParse) {
  for (const char* name : {"sweep_example.json", "sweep_pruning.json"}) {
    const Sweep s = read_sweep(std::string(SXB_SOURCE_DIR) + "/data/" + name);
    EXPECT_FALSE(s.points.empty()) << name;
  }
}

// The study files of docs/results.md parse, and their sizes are the grid of the study.
TEST(Sweep, StudyFilesParse) {
  const std::string dir = std::string(SXB_SOURCE_DIR) + "/data/studies/";
  const Sweep headline = read_sweep(dir + "paper-vgg11-cifar10.json");
  EXPECT_EQ(headline.name, "paper-vgg11-cifar10");
  std::set<std::string> dense_models;
  std::size_t full_test_set = 0;
  for (const SweepPoint& p : headline.points) {
    if (!p.config.prune) dense_models.insert(train_identity_json(p.config.train).dump());
    full_test_set += p.config.eval_data.empty() && p.config.evaluation.bn_recalibrate == 512 &&
                     p.config.evaluation.calibrations.size() == 2;
  }
  EXPECT_EQ(dense_models.size(), 2u);  // two training seeds
  EXPECT_EQ(full_test_set, headline.points.size());
  for (const char* name : {"paper-vgg11-cifar100.json", "paper-vgg16-cifar10.json", "paper-vgg16-cifar100.json",
                           "circuit-search-vgg11-cifar10.json"})
    EXPECT_FALSE(read_sweep(dir + name).points.empty()) << name;
}

// What the model store names a point's model by (engine/studies/model_store.cpp):
// the training's settings, and the pruning's with its data.
std::string stored_model_key(const SweepPointConfig& c) {
  const TrainConfig t = c.train_config("");
  nlohmann::json key = {{"model", t.model}, {"width", t.width}, {"classes", t.classes}, {"data", t.data},
                        {"train", train_identity_json(c.train)}};
  if (c.prune) key["prune"] = {{"data", c.finetune_data()}, {"prune", prune_identity_json(*c.prune)}};
  return key.dump();
}

// The converter study evaluates the paper study's own dense and XCS-0.9 models
// (seed 1, 64 x 64): every point's model is one of the paper study's.
TEST(Sweep, ConverterStudyReusesThePaperStudysModels) {
  const std::string dir = std::string(SXB_SOURCE_DIR) + "/data/studies/";
  const Sweep paper = read_sweep(dir + "paper-vgg11-cifar10.json");
  const Sweep study = read_sweep(dir + "converters-vgg11-cifar10.json");
  EXPECT_EQ(study.name, "converters-vgg11-cifar10");
  std::set<std::string> paper_models, study_models, paper_ids;
  for (const SweepPoint& p : paper.points) {
    paper_models.insert(stored_model_key(p.config));
    paper_ids.insert(p.id);
  }
  std::set<std::pair<int, int>> adc_and_slices;
  for (const SweepPoint& p : study.points) {
    const SweepPointConfig& c = p.config;
    const std::string key = stored_model_key(c);
    EXPECT_TRUE(paper_models.count(key)) << "point " << p.index << ": a model the paper study does not make: " << key;
    study_models.insert(key);
    EXPECT_FALSE(paper_ids.count(p.id)) << "point " << p.index;  // the evaluation differs
    EXPECT_EQ(c.crossbar.tile_rows, 64);
    EXPECT_EQ(c.crossbar.tile_cols, 64);
    EXPECT_EQ(c.evaluation.calibrations.size(), 2u);
    EXPECT_EQ(c.train.seed, 1u);
    if (c.prune) {
      EXPECT_EQ(c.prune->spec.method, PruneMethod::ColumnSegments);
      EXPECT_EQ(c.prune->spec.sparsity, 0.9);
    }
    adc_and_slices.insert({c.crossbar.adc_bits, c.crossbar.slices()});
  }
  EXPECT_EQ(study_models.size(), 2u);  // dense and XCS-0.9
  const std::set<std::pair<int, int>> grid = {{4, 1}, {6, 1}, {8, 1}, {0, 1}, {8, 4}, {0, 4}};
  EXPECT_EQ(adc_and_slices, grid);
  EXPECT_EQ(study.points.size(), 2 * grid.size());
}

TEST(Sweep, BlocksAreTheUnionOfTheirGrids) {
  const Sweep s = parse(R"({"base": {"weights": null, "tile": 32},
    "grid": [{"tile": [16, 32], "crossbar.r_wire": [0.5]},
             {"base": {"crossbar": {"r_sink": 7}}, "crossbar.r_wire": [1, 2, 3]}]})");
  ASSERT_EQ(s.points.size(), 5u);
  ASSERT_EQ(s.blocks.size(), 2u);
  for (std::size_t i = 0; i < s.points.size(); ++i) EXPECT_EQ(s.points[i].index, i);
  EXPECT_EQ(s.points[1].varied.dump(), R"({"tile":32,"crossbar.r_wire":0.5})");
  EXPECT_EQ(s.points[2].varied.dump(), R"({"crossbar.r_wire":1})");  // only the block's own keys
  EXPECT_EQ(s.points[2].config.crossbar.tile_rows, 32);               // the file's base
  EXPECT_EQ(s.points[2].config.crossbar.res.r_sink, 7.0);             // the block's base
  EXPECT_EQ(s.points[0].config.crossbar.res.r_sink, crossbar_preset("default").res.r_sink);
  ASSERT_EQ(s.grid.size(), 2u);  // every key, values merged
  EXPECT_EQ(s.grid[1].first, "crossbar.r_wire");
  EXPECT_EQ(s.grid[1].second.size(), 4u);
  // No grid: the base alone is the one point.
  const Sweep alone = parse(R"({"base": {"weights": null, "tile": 16}})");
  ASSERT_EQ(alone.points.size(), 1u);
  EXPECT_EQ(alone.points[0].config.crossbar.tile_rows, 16);
  // A single grid object is one block, as before.
  EXPECT_EQ(parse(R"({"base": {"weights": null}, "grid": {"tile": [16, 32]}})").blocks.size(), 1u);
  // The same point in two blocks is an error naming both.
  EXPECT_NE(error_of(R"({"grid": [{"tile": [16, 32]}, {"tile": [32]}]})").find("points 1 and 2"), std::string::npos);
  EXPECT_NE(error_of(R"({"grid": []})").find("non-empty list"), std::string::npos);
  EXPECT_NE(error_of(R"({"grid": [{"tile": [16]}, 3]})").find("grid block 1 must be an object"), std::string::npos);
  EXPECT_NE(error_of(R"({"grid": [{"base": 1, "tile": [16]}]})").find("grid block 0: \"base\""), std::string::npos);
  EXPECT_NE(error_of(R"({"grid": [{"tile": []}]})").find("grid block 0 \"tile\""), std::string::npos);
}

TEST(Sweep, FinetuneImagesPerClassIsPartOfTheIdOfPrunedPointsOnly) {
  const auto id = [](const std::string& base) { return parse(R"({"base": )" + base + R"(, "grid": {}})").points[0].id; };
  EXPECT_EQ(id(R"({"tile": 32})"), id(R"({"tile": 32, "finetune_images_per_class": 100})"));  // nothing prunes
  const std::string pruned = R"("prune": {"sparsity": 0.5}, "tile": 32)";
  EXPECT_NE(id("{" + pruned + "}"), id("{" + pruned + R"(, "finetune_images_per_class": 100})"));
  EXPECT_EQ(id("{" + pruned + "}"), id("{" + pruned + R"(, "finetune_images_per_class": 0})"));
  const Sweep s = parse(R"({"base": {)" + pruned + R"(, "data": "synthetic", "finetune_images_per_class": 100},
                            "grid": {}})");
  EXPECT_EQ(s.points[0].config.finetune_data(), "synthetic#first-100-per-class");
  EXPECT_EQ(s.points[0].config.prune_config("d.safetensors", "p").data, "synthetic#first-100-per-class");
  EXPECT_NE(error_of(R"({"base": {"finetune_images_per_class": -1}, "grid": {}})").find("finetune_images_per_class"),
            std::string::npos);
}

TEST(Sweep, ShardsPartitionThePoints) {
  for (int n : {1, 2, 3, 7}) {
    std::vector<int> owners(20, 0);
    for (int k = 0; k < n; ++k) {
      const Shard s = parse_shard(std::to_string(k) + "/" + std::to_string(n));
      for (std::size_t i = 0; i < owners.size(); ++i) owners[i] += s.owns(i);
    }
    for (int c : owners) EXPECT_EQ(c, 1);
  }
  for (const char* bad : {"3/3", "-1/2", "1", "a/b", "1/0", "1/2x"}) EXPECT_THROW(parse_shard(bad), Error) << bad;
  // A Slurm array task claims points, whatever the array's step or the subset resubmitted.
  ::setenv("SLURM_ARRAY_TASK_ID", "4", 1);
  ::setenv("SLURM_ARRAY_JOB_ID", "77", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);  // --array=0-6:2: task 4 is the third of 4
  Shard s = parse_shard("auto");
  EXPECT_TRUE(s.claim);
  EXPECT_EQ(s.name(), "slurm-77-4");
  for (std::size_t i = 0; i < 10; ++i) EXPECT_TRUE(s.owns(i));
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_JOB_ID");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::setenv("OMPI_COMM_WORLD_RANK", "1", 1);  // MPI ranks all start together: k of N
  ::setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  s = parse_shard("auto");
  EXPECT_FALSE(s.claim);
  EXPECT_EQ(s.name(), "1-of-2");
  ::unsetenv("OMPI_COMM_WORLD_RANK");
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  s = parse_shard("claim");
  EXPECT_TRUE(s.claim);
  EXPECT_TRUE(s.name().starts_with("claim-")) << s.name();
}

TEST(SweepResults, TornRecordIsCutAndLocksAreExclusive) {
  const fs::path d = fresh_dir("log");
  const std::string path = sweep_results_file(d.string(), "0-of-1");
  {
    SweepResultsLog log(path);
    log.append({{"id", "a"}, {"index", 1}});
    log.append({{"id", "b"}, {"index", 0}});
    EXPECT_THROW(SweepResultsLog second(path), Error);  // the shard is running
  }
  {
    std::ofstream out(path, std::ios::app);
    out << R"({"id": "c", "ind)";  // a kill in the middle of a record
  }
  SweepRecords r = read_sweep_records(d.string());
  EXPECT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.records[0]["id"], "b");  // in point order
  {
    SweepResultsLog log(path);  // cuts the torn record before appending
    log.append({{"id", "c"}, {"index", 2}});
  }
  r = read_sweep_records(d.string());
  EXPECT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.skipped, 0u);
  EXPECT_EQ(r.ids(), (std::set<std::string>{"a", "b", "c"}));
  fs::remove_all(d);
}

json fake_record(int index, double wire, const std::string& seed_or_tile, double nonideal) {
  return {{"id", "p" + std::to_string(index)},
          {"index", index},
          {"grid_keys", {"tile", "crossbar.r_wire"}},
          {"varied", {{"crossbar.r_wire", wire}, {"tile", seed_or_tile}}},
          {"report",
           {{"accuracy", {{"software", 0.9}, {"ideal", 0.9}, {"nonideal", nonideal}, {"loss", 0.9 - nonideal}}},
            {"crossbars", 100},
            {"ccr", nullptr},
            {"nf", {{"mean", 0.1}, {"max", 0.2}}},
            {"low_conductance_share", 0.8}}},
          {"seconds", {{"total", 1.5}}}};
}

TEST(SweepResults, TablesAndPlot) {
  const std::vector<json> records = {fake_record(0, 0.5, "16", 0.8), fake_record(1, 5, "16", 0.6),
                                     fake_record(2, 0.5, "a,b", 0.7), fake_record(3, 5, "a,b", 0.5)};
  const SweepTable t = sweep_table(records);
  ASSERT_GE(t.columns.size(), 4u);
  EXPECT_EQ(t.columns[2], "tile");  // the grid's order, not the JSON object's
  EXPECT_EQ(t.columns[3], "crossbar.r_wire");
  const std::string csv = table_csv(t);
  EXPECT_NE(csv.find("2,p2,\"a,b\",0.5,0.9,0.9,0.7,0.2,,100,,0.1,0.2,0.8,1.5,,,\n"), std::string::npos) << csv;
  const std::string md = table_markdown(t);
  EXPECT_NE(md.find("| 1 | p1 | 16 | 5 | 0.9 | 0.9 | 0.6 |"), std::string::npos) << md;
  EXPECT_TRUE(std::isnan(sweep_metric(records[0], "ccr")));
  const SweepTable m = sweep_table_mean(records, {"tile"});  // two tiles per wire value
  ASSERT_EQ(m.rows.size(), 2u);
  EXPECT_EQ(m.columns[0], "crossbar.r_wire");
  EXPECT_EQ(m.columns[1], "n");
  EXPECT_EQ(m.columns[6], "nonideal");
  EXPECT_EQ(m.rows[1][0], "5");
  EXPECT_EQ(m.rows[1][1], "2");
  EXPECT_EQ(m.rows[1][6], "0.55");                  // mean of 0.6 and 0.5
  EXPECT_EQ(m.rows[1][7], "0.0707107");             // their sample standard deviation
  EXPECT_EQ(sweep_table_mean(records, {"tile", "crossbar.r_wire"}).rows[0][0], "4");  // one group: n = 4
  EXPECT_THROW(sweep_table_mean(records, {"seed"}), Error);
  EXPECT_THROW(sweep_metric(records[0], "accuracy"), Error);

  const std::string two = sweep_svg(records, "crossbar.r_wire", "nonideal", "tile");
  std::size_t lines = 0;
  for (std::size_t p = 0; (p = two.find("stroke-width=\"2\"", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, 2u);
  const std::string one = sweep_svg(records, "crossbar.r_wire", "nonideal", "");
  EXPECT_NE(one.find("(mean over tile)"), std::string::npos);
  EXPECT_THROW(sweep_svg(records, "tile", "nonideal", ""), Error);  // not numeric
  EXPECT_THROW(sweep_svg(records, "seed", "nonideal", ""), Error);  // not a grid key
}

// Two wire resistances x (dense, XCS-pruned) of one tiny trained VGG11.
TEST(SweepRun, RunsResumesAndReusesModels) {
  const fs::path d = fresh_dir("run");
  const Sweep s = parse(R"({"name": "tiny",
    "base": {"width": 0.125, "data": "synthetic:384", "train": {"epochs": 1, "batch": 64}, "tile": 32},
    "grid": {"prune": [null, {"method": "xcs", "sparsity": 0.5, "reg_epochs": 0, "finetune_epochs": 1}],
             "crossbar.r_wire": [0, 10]}})");
  ASSERT_EQ(s.points.size(), 4u);
  SweepRunOptions o;
  o.out_dir = (d / "out").string();
  o.cache_dir = (d / "cache").string();
  o.backend = Backend::Cpu;

  o.stop_requested = [] { return true; };  // stopped before the first point
  SweepRunResult r = run_sweep(s, o);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.done, 0u);

  o.stop_requested = nullptr;
  o.max_points = 1;
  r = run_sweep(s, o);
  EXPECT_EQ(r.done, 1u);
  o.max_points = 0;
  o.shard = parse_shard("1/2");  // points 1 and 3
  r = run_sweep(s, o);
  EXPECT_EQ(r.owned, 2u);
  EXPECT_EQ(r.done, 2u);
  o.shard = parse_shard("0/2");  // point 0 is done already
  r = run_sweep(s, o);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.done, 1u);
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(r.failed, 0u);

  const SweepRecords all = read_sweep_records(o.out_dir);
  ASSERT_EQ(all.records.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const json& rec = all.records[i];
    EXPECT_EQ(rec["index"], i);
    EXPECT_EQ(rec["id"], s.points[i].id);
    EXPECT_EQ(rec["config"], s.points[i].config.to_json());
    EXPECT_EQ(rec["report"]["crossbar"]["r_wire_row"], i % 2 ? 10.0 : 0.0);
    // The ideal crossbar reproduces the software model.
    EXPECT_EQ(sweep_metric(rec, "ideal"), sweep_metric(rec, "software"));
  }
  // Zero parasitics (r_wire 0 with the default source/sink) keep NF below the 10-ohm wires'.
  EXPECT_LT(sweep_metric(all.records[0], "nf_mean"), sweep_metric(all.records[1], "nf_mean"));
  // One trained model, one pruned model, shared by the points.
  EXPECT_EQ(all.records[0]["models"]["dense"], all.records[3]["models"]["dense"]);
  EXPECT_EQ(all.records[2]["models"]["pruned"], all.records[3]["models"]["pruned"]);
  EXPECT_TRUE(all.records[0]["models"]["pruned"].is_null());
  EXPECT_GT(sweep_metric(all.records[2], "ccr"), 1.0);
  EXPECT_EQ(sweep_metric(all.records[0], "ccr"), 1.0);
  int trained = 0;
  for (const auto& e : fs::directory_iterator(d / "cache" / "sweep-models"))
    trained += e.path().filename().string().starts_with("train-") && e.path().extension() == ".safetensors" &&
               e.path().filename().string().find(".ckpt.") == std::string::npos;
  EXPECT_EQ(trained, 1);
  fs::remove_all(d);
}

// Claiming runners: a point whose claim another runner holds is left to it;
// once released (the runner ended), a later runner takes it; nothing runs twice.
TEST(SweepRun, ClaimingRunnersShareThePoints) {
  const fs::path d = fresh_dir("claim");
  const Sweep s = parse(R"({"name": "claim",
    "base": {"width": 0.125, "data": "synthetic:128", "train": {"epochs": 1, "batch": 64}, "tile": 32},
    "grid": {"crossbar.r_wire": [0, 5, 10]}})");
  SweepRunOptions o;
  o.out_dir = (d / "out").string();
  o.cache_dir = (d / "cache").string();
  o.backend = Backend::Cpu;
  o.shard = parse_shard("claim");
  fs::create_directories(d / "out" / "claims");
  const std::string held = (d / "out" / "claims" / (s.points[1].id + ".lock")).string();
  const int fd = ::open(held.c_str(), O_RDWR | O_CREAT, 0644);  // another runner is on point 1
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  SweepRunResult r = run_sweep(s, o);
  EXPECT_EQ(r.done, 2u);
  EXPECT_EQ(r.failed, 0u);
  std::set<std::string> ids = read_sweep_records(o.out_dir).ids();
  EXPECT_EQ(ids, (std::set<std::string>{s.points[0].id, s.points[2].id}));
  ::close(fd);  // that runner was cancelled: its claim is released
  o.shard = parse_shard("claim");
  r = run_sweep(s, o);  // a resubmitted task takes only the point left
  EXPECT_EQ(r.done, 1u);
  const SweepRecords all = read_sweep_records(o.out_dir);
  EXPECT_EQ(all.records.size(), 3u);
  EXPECT_EQ(all.ids().size(), 3u);
  EXPECT_EQ(run_sweep(s, o).done, 0u);
  fs::remove_all(d);
}

// A bad data spec of any point stops the run before the first point, naming the point.
TEST(SweepRun, DataSpecsAreCheckedBeforeAnyPointRuns) {
  const fs::path d = fresh_dir("dataspec");
  const Sweep s = parse(R"({"name": "dataspec",
    "base": {"width": 0.125, "data": "synthetic:64", "train": {"epochs": 1, "batch": 64}, "tile": 32},
    "grid": {"eval_data": ["synthetic:64", "folder:no-such-folder"]}})");
  SweepRunOptions o;
  o.out_dir = (d / "out").string();
  o.cache_dir = (d / "cache").string();
  o.data_root = d.string();
  const std::string e = test::error_of([&] { run_sweep(s, o); });
  EXPECT_NE(e.find("point 1"), std::string::npos) << e;
  EXPECT_NE(e.find((d / "no-such-folder").string() + " is not a folder"), std::string::npos) << e;
  EXPECT_TRUE(read_sweep_records(o.out_dir).records.empty());  // point 0 did not run either
  EXPECT_FALSE(fs::exists(d / "cache" / "sweep-models"));
  EXPECT_NE(test::error_of([] { check_data_spec("synthetic:"); }).find("synthetic:N"), std::string::npos);
  EXPECT_NE(test::error_of([] { check_data_spec("cifar11:x"); }).find("unknown kind 'cifar11'"), std::string::npos);
  EXPECT_EQ(test::error_of([] { check_data_spec("synthetic:9"); }), "");
}

TEST(SweepRun, FailedPointsAreLoggedAndRetried) {
  const fs::path d = fresh_dir("fail");
  // A folder that exists (the spec passes the check before the run) but holds no CIFAR files.
  fs::create_directories(d / "nonexistent-sxb-dir");
  const Sweep s = parse(R"({"name": "fail",
    "base": {"width": 0.125, "data": "synthetic:256", "train": {"epochs": 1, "batch": 64}, "tile": 64},
    "grid": {"eval_data": ["synthetic:64", "cifar10:)" + (d / "nonexistent-sxb-dir").string() + R"("]}})");
  SweepRunOptions o;
  o.out_dir = (d / "out").string();
  o.cache_dir = (d / "cache").string();
  o.backend = Backend::Cpu;
  SweepRunResult r = run_sweep(s, o);
  EXPECT_EQ(r.done, 1u);
  EXPECT_EQ(r.failed, 1u);
  std::ifstream failures(d / "out" / "failures.0-of-1.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(failures, line));
  const json f = json::parse(line);
  EXPECT_EQ(f["index"], 1);
  EXPECT_NE(f["error"].get<std::string>().find("nonexistent-sxb-dir"), std::string::npos) << f.dump();
  r = run_sweep(s, o);  // the finished point is skipped, the failed one tried again
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(read_sweep_records(o.out_dir).records.size(), 1u);
  fs::remove_all(d);
}

TEST(SweepRun, DivergedTrainingIsARecordedFailure) {
  const fs::path d = fresh_dir("diverge");
  const Sweep s = parse(R"({"name": "diverge",
    "base": {"width": 0.0625, "data": "synthetic:192", "train": {"epochs": 2, "batch": 32, "weight_decay": 0}, "tile": 32},
    "grid": {"train.lr": [100]}})");
  SweepRunOptions o;
  o.out_dir = (d / "out").string();
  o.cache_dir = (d / "cache").string();
  o.backend = Backend::Cpu;
  const SweepRunResult r = run_sweep(s, o);
  EXPECT_EQ(r.done, 0u);
  EXPECT_EQ(r.failed, 1u);
  std::ifstream failures(d / "out" / "failures.0-of-1.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(failures, line));
  const std::string error = json::parse(line)["error"].get<std::string>();
  EXPECT_NE(error.find("training diverged"), std::string::npos) << error;
  EXPECT_TRUE(read_sweep_records(o.out_dir).records.empty());
  fs::remove_all(d);
}

TEST(SweepRun, StopDuringPruningIsAnInterruption) {
  const fs::path d = fresh_dir("stop");
  const Sweep s = parse(R"({"name": "stop",
    "base": {"width": 0.125, "data": "synthetic:384", "train": {"epochs": 1, "batch": 64}, "tile": 32,
             "prune": {"method": "xrs", "sparsity": 0.5, "reg_epochs": 1, "finetune_epochs": 1, "batch": 64}},
    "grid": {}})");
  SweepRunOptions o;
  o.out_dir = (d / "out").string();
  o.cache_dir = (d / "cache").string();
  o.backend = Backend::Cpu;
  int polls = 0;  // 1 before the point, 6 training steps, then the pruning's steps
  o.stop_requested = [&polls] { return ++polls >= 10; };
  SweepRunResult r = run_sweep(s, o);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.done, 0u);
  EXPECT_GE(polls, 10);
  o.stop_requested = nullptr;
  r = run_sweep(s, o);  // resumes the pruning from its checkpoint
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(r.done, 1u);
  EXPECT_EQ(r.failed, 0u);
  fs::remove_all(d);
}

}  // namespace
}  // namespace sxb

namespace sxb {
namespace {

// The nonideal_finetune stage: part of the id only when set; run after the
// pruning on the point's crossbar, recorded, and shared by equal points.
TEST(SweepRun, NonidealFinetuneStage) {
  const std::string plain = R"({"base": {"prune": {"sparsity": 0.5}}, "grid": {}})";
  EXPECT_EQ(parse(plain).points[0].id,
            parse(R"({"base": {"prune": {"sparsity": 0.5}, "nonideal_finetune": null}, "grid": {}})").points[0].id);
  const Sweep staged = parse(R"({"base": {"prune": {"sparsity": 0.5}, "nonideal_finetune": {}}, "grid": {}})");
  EXPECT_NE(staged.points[0].id, parse(plain).points[0].id);
  ASSERT_TRUE(staged.points[0].config.nonideal_finetune.has_value());
  EXPECT_EQ(*staged.points[0].config.nonideal_finetune, NonidealFinetuneStage{});
  EXPECT_NE(error_of(R"({"base": {"nonideal_finetune": {"lr": -1}}, "grid": {}})").find("nonideal_finetune.lr"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"base": {"nonideal_finetune": {"epoch": 1}}, "grid": {}})").find("nonideal_finetune.epoch"),
            std::string::npos);

  const fs::path d = fresh_dir("tune");
  const Sweep s = parse(R"({"name": "tune",
    "base": {"width": 0.125, "data": "synthetic:128", "train": {"epochs": 1, "batch": 64}, "tile": 32,
             "nonideal_finetune": {"epochs": 1, "batch": 64, "resolve_every": 1}},
    "grid": {"prune": [null, {"method": "xcs", "sparsity": 0.5, "reg_epochs": 0, "finetune_epochs": 1}]}})");
  SweepRunOptions o;
  o.out_dir = (d / "out").string();
  o.cache_dir = (d / "cache").string();
  o.backend = Backend::Cpu;
  const SweepRunResult r = run_sweep(s, o);
  EXPECT_EQ(r.done, 2u);
  EXPECT_EQ(r.failed, 0u);
  const SweepRecords all = read_sweep_records(o.out_dir);
  ASSERT_EQ(all.records.size(), 2u);
  for (const json& rec : all.records) {
    ASSERT_TRUE(rec["models"].contains("tuned")) << rec.dump();
    const std::string tuned = rec["models"]["tuned"];
    const SafetensorsFile f = read_safetensors(tuned);
    ASSERT_TRUE(f.metadata.count("nonideal_crossbar")) << tuned;
    EXPECT_EQ(json::parse(f.metadata.at("nonideal_crossbar"))["tile_rows"], 32);
    EXPECT_GT(rec["seconds"]["nonideal_finetune"].get<double>(), 0.0);
    EXPECT_TRUE(rec["report"]["warnings"].dump().find("fine-tuned for another") == std::string::npos);
  }
  // The pruned model's zeros stay zeros (the layout's masks).
  {
    const int i = 1;
    const SafetensorsFile pruned = read_safetensors(all.records[i]["models"]["pruned"].get<std::string>());
    const SafetensorsFile tuned = read_safetensors(all.records[i]["models"]["tuned"].get<std::string>());
    long long zeros = 0;
    for (const auto& [name, t] : pruned.tensors) {
      if (!name.ends_with(".weight") || t.shape.size() < 2) continue;
      for (std::size_t k = 0; k < t.data.size(); ++k)
        if (t.data[k] == 0.0f) {
          ++zeros;
          ASSERT_EQ(tuned.tensors.at(name).data[k], 0.0f) << name;
        }
    }
    EXPECT_GT(zeros, 0);
  }
  EXPECT_EQ(run_sweep(s, o).skipped, 2u);  // run again: every point is done
  fs::remove_all(d);
}

}  // namespace
}  // namespace sxb
