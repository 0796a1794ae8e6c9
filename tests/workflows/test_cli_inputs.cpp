// `sparsexbar` at its door: usage errors (bad flags, numbers that would be
// coerced, too many threads) exit 2 before any work; output paths are checked
// before the work; --resume without a checkpoint starts afresh.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "models/io/safetensors.h"
#include "tests/support/cli_run.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {
namespace fs = std::filesystem;

using test::CliRun;
CliRun run(const std::string& args) { return test::run_cli(args); }

const std::string kAFile = SXB_CLI;
const std::string kTiny = "--model vgg11 --width 0.0625 --data synthetic:16 --epochs 1 --batch 8";

TEST(CliInputs, UsageErrorsExitTwoAndNameTheFlag) {
  struct Case {
    std::string args, needle;
  } cases[] = {
      {"train", "--model is required"},
      {"no-such-command", "A subcommand is required"},
      {"train " + kTiny + " --out m.safetensors --seed -1", "--seed: '-1' is not a non-negative integer"},
      {"train " + kTiny + " --out m.safetensors --epochs 1.5", "--epochs: '1.5' is not an integer"},
      {"train " + kTiny + " --out m.safetensors --lr nan", "--lr: 'nan' is not a finite number"},
      {"train " + kTiny + " --out m.safetensors --threads 100000", "--threads: '100000': at most"},
      // An existing file stands in for the weights and the sweep file: the numbers are refused first.
      {"software-eval --model vgg11 --weights " + kAFile + " --data synthetic --threads 100000", "at most"},
      {"evaluate --model vgg11 --weights " + kAFile + " --data synthetic --rearrange-budget nan", "not a finite number"},
      {"sweep run " + kAFile + " --max-points -1", "--max-points: '-1' is not a non-negative integer"},
      {"software-eval --model vgg11 --weights / --data synthetic", "--weights: File is actually a directory"},
      {"tile --input /no/such/tile.json", "--input: File does not exist"},
  };
  for (const Case& c : cases) {
    const CliRun r = run(c.args);
    EXPECT_EQ(r.status, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
  }
  EXPECT_EQ(run("--help").status, 0);
  EXPECT_EQ(run("--version").status, 0);
}

TEST(CliInputs, OutputPathsAreCheckedBeforeTheWork) {
  const fs::path dir = test::fresh_dir("cli-outputs");
  std::ofstream(dir / "file") << "a file, not a folder";
  std::ofstream(dir / "w.safetensors") << "not weights";  // never read: the output check comes first
  std::ofstream(dir / "sweep.json") << R"({"name": "tiny", "base": {"width": 0.0625, "data": "synthetic:16",
    "train": {"epochs": 1, "batch": 8}, "tile": 16}, "grid": {"crossbar.r_wire": [0, 10]}})";
  const std::string blocked = (dir / "file" / "out").string();  // its parent is a file
  struct Case {
    std::string args, needle;
  } cases[] = {
      {"software-eval --model vgg11 --weights " + (dir / "w.safetensors").string() + " --data synthetic:8 --json " +
           blocked + ".json",
       "--json " + blocked + ".json: cannot create folder"},
      {"software-eval --model vgg11 --weights " + (dir / "w.safetensors").string() + " --data synthetic:8 --predictions " +
           blocked + ".csv",
       "--predictions " + blocked + ".csv"},
      {"train " + kTiny + " --out " + blocked + ".safetensors", "--out " + blocked + ".safetensors"},
      {"train " + kTiny + " --out " + dir.string(), "is a folder"},
      {"sweep run " + (dir / "sweep.json").string() + " --out " + blocked, "--out " + blocked},
      {"sweep run " + (dir / "sweep.json").string() + " --out " + (dir / "o").string() + " --cache-dir " + blocked,
       "--cache-dir " + blocked},
      {"sweep merge " + dir.string() + " --csv " + blocked + ".csv", "--csv " + blocked + ".csv"},
  };
  for (const Case& c : cases) {
    const CliRun r = run(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("epoch"), std::string::npos) << "no training before the check\n" << r.output;
  }
  // A folder that does not exist yet is created.
  const CliRun r = run("software-eval --model vgg11 --weights " + (dir / "w.safetensors").string() +
                    " --data synthetic:8 --json " + (dir / "new" / "r.json").string());
  EXPECT_TRUE(fs::is_directory(dir / "new")) << r.output;
  EXPECT_NE(r.output.find("w.safetensors"), std::string::npos) << r.output;  // now the weights are read
}

TEST(CliInputs, ResumeWithoutACheckpointStartsAfresh) {
  const fs::path dir = test::fresh_dir("cli-resume");
  const std::string model = (dir / "m.safetensors").string();
  CliRun r = run("train " + kTiny + " --out " + model + " --resume");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("no checkpoint"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("starting afresh"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(model));
  r = run("prune --method xcs --sparsity 0.5 --tile 16 --reg-epochs 0 --finetune-epochs 0 --data synthetic:16 "
          "--batch 8 --weights " + model + " --out " + (dir / "p").string() + " --resume");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("starting afresh"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "p.safetensors")) << r.output;
}

// evaluate's W_eff cache is optional: a folder that cannot be made, given or
// the default (a home that is not writable), is a warning and no cache.
TEST(CliInputs, AnUnusableCacheFolderIsAWarning) {
  const fs::path dir = test::fresh_dir("cli-cache");
  std::ofstream(dir / "file") << "a file, not a folder";
  const std::string blocked = (dir / "file" / "cache").string();
  const std::string model = (dir / "m.safetensors").string();
  CliRun r = run("train " + kTiny + " --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string evaluate = "evaluate --model vgg11 --weights " + model + " --data synthetic:8 --tile 16";
  r = run(evaluate + " --cache-dir " + blocked);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: --cache-dir " + blocked + ": cannot create folder"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("going on without the W_eff cache"), std::string::npos) << r.output;
  r = test::run_shell("env -u SPARSEXBAR_CACHE -u XDG_CACHE_HOME HOME=" + (dir / "file").string() + " " +
                      std::string(SXB_CLI) + " " + evaluate + " 2>&1");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: the cache folder " + (dir / "file").string() + "/.cache/sparsexbar"),
            std::string::npos)
      << r.output;
  // The flag the user never gave is named only as the way to choose another folder.
  const std::string advice = "choose another folder with --cache-dir";
  ASSERT_NE(r.output.find(advice), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("--cache-dir"), r.output.find(advice) + advice.size() - std::string("--cache-dir").size())
      << r.output;
}

// A resistance so large that a gain would overflow: an error naming the key, no inf printed, no JSON.
TEST(CliInputs, NonFiniteResultsAreErrors) {
  const fs::path dir = test::fresh_dir("cli-nonfinite");
  const std::string model = (dir / "m.safetensors").string(), json = (dir / "r.json").string();
  CliRun r = run("train " + kTiny + " --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run("evaluate --model vgg11 --weights " + model + " --data synthetic:8 --tile 16 --no-cache --set r_wire=1e308 "
          "--json " + json);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("r_wire_row = 1e+308 ohm is above 1e+15 ohm"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(" inf"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(json));
}

// Weights so large that the software model's outputs overflow: an error naming the file, not an accuracy.
TEST(CliInputs, WeightsThatOverflowAreAnError) {
  const fs::path dir = test::fresh_dir("cli-overflow");
  const std::string model = (dir / "m.safetensors").string(), big = (dir / "big.safetensors").string();
  CliRun r = run("train " + kTiny + " --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  SafetensorsFile f = read_safetensors(model);
  ASSERT_TRUE(f.tensors.count("features.0.weight"));
  for (const char* name : {"features.0.weight", "classifier.weight"})
    for (float& w : f.tensors[name].data) w = 3e38f;
  write_safetensors(big, f);
  r = run("evaluate --model vgg11 --weights " + big + " --data synthetic:8 --tile 16 --no-cache");
  EXPECT_EQ(r.status, 1) << r.output;
  // Caught where the overflow first shows: the software outputs, or the crossbar result before any output.
  EXPECT_NE(r.output.find("not finite"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(big), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("accuracy:"), std::string::npos) << r.output;
}

// train --nonideal checks the layout against the model as evaluate does: another width's layout is refused.
TEST(CliInputs, NonidealTrainingRefusesALayoutOfOtherWeights) {
  const fs::path dir = test::fresh_dir("cli-layout");
  const std::string narrow = (dir / "narrow.safetensors").string(), wide = (dir / "wide.safetensors").string();
  ASSERT_EQ(run("train " + kTiny + " --out " + narrow).status, 0);
  CliRun r = run("train --model vgg11 --width 0.125 --data synthetic:16 --epochs 1 --batch 8 --out " + wide);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run("prune --method xcs --sparsity 0.5 --tile 16 --reg-epochs 0 --finetune-epochs 0 --data synthetic:16 "
          "--batch 8 --weights " + narrow + " --out " + (dir / "p").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string layout = (dir / "p.layout.json").string();
  r = run("train --model vgg11 --width 0.125 --data synthetic:16 --epochs 1 --batch 8 --init " + wide +
          " --out " + (dir / "t.safetensors").string() + " --nonideal --layout " + layout);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(layout + ": layer 'features.0' is"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("in the layout, but the model's weight"), std::string::npos) << r.output;
  // Same shapes, but --init is the dense model, not the pruned one the layout belongs to: refused as well.
  const std::string tuned = " --nonideal --tile 16 --resolve-every 1000 --layout " + layout + " --out " +
                            (dir / "t.safetensors").string();
  r = run("train " + kTiny + " --init " + narrow + tuned);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(layout + ": layer '"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("held by no tile"), std::string::npos) << r.output;
  // The pruned model itself trains on its layout.
  r = run("train " + kTiny + " --init " + (dir / "p.safetensors").string() + tuned);
  EXPECT_EQ(r.status, 0) << r.output;
}

// A 10-class model on 3-class folder data: an error, not an accuracy.
TEST(CliInputs, ModelAndDataClassesMustAgree) {
  const fs::path dir = test::fresh_dir("cli-classes");
  const std::string model = (dir / "m.safetensors").string();
  CliRun r = run("train " + kTiny + " --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  unsigned char px[32 * 32 * 3] = {};
  for (const char* split : {"train", "test"})
    for (const char* cls : {"ant", "bee", "cat"}) {
      fs::create_directories(dir / "data" / split / cls);
      ASSERT_TRUE(stbi_write_png((dir / "data" / split / cls / "a.png").c_str(), 32, 32, 3, px, 32 * 3));
    }
  const std::string data = " --data folder:" + (dir / "data").string();
  // `eval`: the deprecated name of software-eval, which says so and then does the same.
  for (const std::string cmd : {"software-eval", "eval", "evaluate --tile 16 --no-cache"}) {
    r = run(cmd + " --model vgg11 --weights " + model + data);
    EXPECT_EQ(r.status, 1) << cmd << "\n" << r.output;
    EXPECT_EQ(r.output.find("'eval' is deprecated; use 'software-eval'") != std::string::npos, cmd == "eval")
        << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find(model + ": the model has 10 classes, but the data folder:"), std::string::npos)
        << cmd << "\n" << r.output;
    EXPECT_EQ(r.output.find("accuracy"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace sxb
