// The pipeline that produced docs/results.md, kept working: a reduced copy of
// data/studies/paper-vgg11-cifar10.json (256 synthetic images, width 0.0625, one
// epoch, the sparsity-0.9 models of seed 1) through `sweep run` -> `sweep merge
// --csv` -> scripts/study_report.py, and `evaluate --predictions` with one
// prediction column per read-out variant.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/test_helpers.h"

namespace sxb {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

int run(const std::string& command) { return std::system((command + " > /dev/null 2>&1").c_str()); }

std::vector<std::string> split(const std::string& line, char sep = ',') {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == sep && !quoted) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

// The study file with the cost cut down and the structure (blocks, keys) kept.
ojson reduced_study() {
  ojson s = ojson::parse(test::read_text(fs::path(SXB_SOURCE_DIR) / "data/studies/paper-vgg11-cifar10.json"));
  s["name"] = "paper-reduced";
  ojson& base = s["base"];
  base["width"] = 0.0625;
  base["data"] = "synthetic:256";
  base["train"] = {{"epochs", 1}, {"batch", 32}, {"lr", 0.05}};
  base["finetune_images_per_class"] = 16;
  base["evaluation"]["bn_recalibrate"] = 64;
  ojson blocks = ojson::array();
  for (ojson block : s["grid"]) {
    if (block["train.seed"] != ojson::array({1})) continue;
    ojson models = ojson::array();
    for (ojson m : block["prune"]) {
      if (!m.is_null()) {
        if (m["sparsity"] != 0.9) continue;
        m["reg_epochs"] = 0;
        m["finetune_epochs"] = 1;
        m["batch"] = 64;
      }
      models.push_back(m);
    }
    block["prune"] = models;
    // Every block runs under each circuit; one keeps the cost down (the tables treat each alike).
    const ojson& presets = block["crossbar.preset"];
    if (std::find(presets.begin(), presets.end(), "default") == presets.end()) continue;
    block["crossbar.preset"] = ojson::array({"default"});
    if (block.contains("nonideal_finetune")) block["nonideal_finetune"] = {{{"epochs", 1}, {"batch", 64}}};
    blocks.push_back(block);
  }
  s["grid"] = blocks;
  return s;
}

TEST(StudyPipeline, RunMergeAndRegenerateTheTables) {
  if (run("python3 --version") != 0) GTEST_SKIP() << "python3 is not installed";
  const fs::path d = test::fresh_dir("study");
  const std::string cli = SXB_CLI, src = SXB_SOURCE_DIR;
  const ojson study = reduced_study();
  ASSERT_GE(study["grid"].size(), 5u);  // main, WCT, spread, NIA, variation
  std::ofstream(d / "paper-reduced.json") << study.dump(1);

  const std::string sweep = (d / "paper-reduced.json").string(), out = (d / "results").string(),
                    cache = (d / "cache").string();
  ASSERT_EQ(run(cli + " sweep run " + sweep + " --out " + out + " --cache-dir " + cache + " --threads 2"), 0);
  // --json prints one object per point.
  ASSERT_EQ(std::system((cli + " sweep list " + sweep + " --out " + out + " --json > " + (d / "list.jsonl").string() +
                         " 2>/dev/null")
                            .c_str()),
            0);
  std::set<std::string> ids;
  {
    std::istringstream lines(test::read_text(d / "list.jsonl"));
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) ids.insert(json::parse(line)["id"].get<std::string>());
  }
  ASSERT_GE(ids.size(), 20u);

  const fs::path csv = d / "tables" / "paper-reduced.csv";
  fs::create_directories(csv.parent_path());
  ASSERT_EQ(run(cli + " sweep merge " + out + " --csv " + csv.string()), 0);
  std::istringstream rows(test::read_text(csv));
  std::string header;
  std::getline(rows, header);
  const std::vector<std::string> columns = split(header);
  std::map<std::string, std::size_t> at;
  for (std::size_t i = 0; i < columns.size(); ++i) at[columns[i]] = i;
  for (const char* c : {"software", "ideal", "nonideal_none", "nonideal_column", "nonideal_none_bn",
                        "nonideal_column_bn", "test_images", "crossbars", "ccr", "nf_mean", "low_share", "train.seed",
                        "prune", "tile", "rearrange", "nonideal_finetune", "crossbar.seed", "train_seed", "prune_seed",
                        "variation_seed"})
    EXPECT_TRUE(at.count(c)) << c << " missing from " << header;
  std::set<std::string> merged;
  for (std::string line; std::getline(rows, line);) {
    const std::vector<std::string> r = split(line);
    ASSERT_EQ(r.size(), columns.size()) << line;
    merged.insert(r[at["id"]]);
    EXPECT_EQ(r[at["test_images"]], "256") << line;
    for (const char* v : {"nonideal_none", "nonideal_column", "nonideal_none_bn", "nonideal_column_bn"}) {
      const double a = std::stod(r[at[v]]);
      EXPECT_TRUE(a >= 0.0 && a <= 1.0) << v << " " << line;
    }
  }
  EXPECT_EQ(merged, ids);  // a row for every point id that `sweep list` prints

  const fs::path md = d / "tables.md", figures = d / "figures";
  ASSERT_EQ(run("python3 " + src + "/scripts/study_report.py --csv-dir " + csv.parent_path().string() +
                " --prefix paper- --figures " + figures.string() + " --markdown " + md.string()),
            0);
  const std::string tables = test::read_text(md);
  // Every row of the read-out table: the losses are software - variant, in points.
  std::size_t checked = 0;
  {
    std::istringstream lines(tables.substr(tables.find("#### Accuracy per read-out")));
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("#### Mitigations")) break;
      const std::vector<std::string> c = split(line, '|');
      if (c.size() != 15 || c[1] == " circuit " || c[1].starts_with("---")) continue;
      const double software = std::stod(c[6]), none = std::stod(c[8]), column = std::stod(c[9]);
      EXPECT_NEAR(std::stod(c[12]), software - none, 0.011) << line;
      EXPECT_NEAR(std::stod(c[13]), software - column, 0.011) << line;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 8u);  // 4 models x 2 tiles
  for (const char* s : {"### paper-reduced", "| default | 32 | dense |", "| default | 64 | XCS 0.9 |", "WCT 0.5 %",
                        "spread %", "NIA fine-tuning %", "#### Device variation", "column+BN %"})
    EXPECT_NE(tables.find(s), std::string::npos) << s << "\n" << tables;
  const std::string svg = test::read_text(figures / "paper-reduced-default.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  std::size_t lines = 0;  // one line per method in each of 2 tiles x 2 read-outs
  for (std::size_t p = 0; (p = svg.find("<polyline", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, 12u);
  // The tables land between the markers of a results page.
  std::ofstream(d / "results.md") << "# R\n<!-- study-tables:begin -->\nold\n<!-- study-tables:end -->\ntail\n";
  ASSERT_EQ(run("python3 " + src + "/scripts/study_report.py --csv-dir " + csv.parent_path().string() +
                " --figures " + figures.string() + " --results-md " + (d / "results.md").string()),
            0);
  const std::string page = test::read_text(d / "results.md");
  EXPECT_EQ(page.find("\nold\n"), std::string::npos);
  EXPECT_NE(page.find("### paper-reduced"), std::string::npos);
  EXPECT_NE(page.find("tail"), std::string::npos);
}

// Per-image predictions of every read-out variant, consistent with the report's accuracies.
TEST(StudyPipeline, PredictionsHaveOneColumnPerReadoutVariant) {
  const fs::path d = test::fresh_dir("predictions");
  const std::string cli = SXB_CLI, m = (d / "m.safetensors").string();
  ASSERT_EQ(run(cli + " train --model vgg11 --width 0.125 --data synthetic:128 --epochs 1 --batch 64 --out " + m), 0);
  ASSERT_EQ(run(cli + " evaluate --model vgg11 --weights " + m + " --data synthetic:128 --tile 32 --calibration " +
                "none,column --bn-recalibrate 32 --no-cache --quiet --json " + (d / "r.json").string() +
                " --predictions " + (d / "p.csv").string()),
            0);
  const json report = json::parse(test::read_text(d / "r.json"));
  std::istringstream rows(test::read_text(d / "p.csv"));
  std::string header;
  std::getline(rows, header);
  const std::vector<std::string> columns = split(header);
  ASSERT_GE(columns.size(), 8u);
  EXPECT_EQ(std::vector<std::string>(columns.begin(), columns.begin() + 8),
            (std::vector<std::string>{"index", "label", "software", "nonideal", "nonideal_none", "nonideal_column",
                                      "nonideal_none_bn", "nonideal_column_bn"}));
  std::vector<int> correct(8, 0);
  int n = 0;
  for (std::string line; std::getline(rows, line); ++n) {
    const std::vector<std::string> r = split(line);
    for (std::size_t c = 2; c < 8; ++c) correct[c] += r[c] == r[1];
    EXPECT_EQ(r[3], r[4]);  // nonideal is the first variant
  }
  ASSERT_EQ(n, 128);
  const json& variants = report["variants"];
  ASSERT_EQ(variants.size(), 4u);
  for (std::size_t v = 0; v < 4; ++v)
    EXPECT_DOUBLE_EQ(variants[v]["accuracy"].get<double>(), correct[4 + v] / 128.0) << columns[4 + v];
  EXPECT_DOUBLE_EQ(report["accuracy"]["software"].get<double>(), correct[2] / 128.0);
}

}  // namespace
}  // namespace sxb
