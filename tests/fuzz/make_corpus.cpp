// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/)
// with the project's own writers, so every seed is a valid file of its format.
// Usage: fuzz_make_corpus <out-dir> <source-dir>   (scripts/fuzz.sh --seeds)
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/layout_file.h"
#include "engine/data/dataset.h"
#include "models/io/safetensors.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path out_dir;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(out_dir / target);
  std::ofstream(out_dir / target / name, std::ios::binary) << bytes;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A safetensors file by hand: every dtype the reader converts, plus metadata.
std::string mixed_dtypes() {
  json h = {{"__metadata__", {{"format", "pt"}}}};
  std::string data;
  const auto add = [&](const std::string& name, const std::string& dtype, std::vector<int> shape, int bytes) {
    const std::size_t begin = data.size();
    for (int k = 0; k < bytes; ++k) data.push_back(static_cast<char>(0x3c + 7 * k));
    h[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
  };
  add("a.f64", "F64", {2}, 16);
  add("a.f16", "F16", {2, 2}, 8);
  add("a.bf16", "BF16", {3}, 6);
  add("a.i64", "I64", {}, 8);
  add("a.i32", "I32", {1, 1}, 4);
  std::string text = h.dump();
  const std::uint64_t n = text.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + text + data;
}

void safetensors_seeds() {
  sxb::SafetensorsFile f;
  f.metadata["note"] = "seed";
  f.tensors["features.0.weight"] = {{2, 1, 3, 3}, std::vector<float>(18, 0.25f), "F32"};
  f.tensors["features.1.num_batches_tracked"] = {{}, {7.0f}, "I64"};
  f.tensors["classifier.bias"] = {{0}, {}, "F32"};
  sxb::write_safetensors((out_dir / "tmp.safetensors").string(), f);
  put("fuzz_safetensors", "f32_i64_empty", slurp(out_dir / "tmp.safetensors"));
  fs::remove(out_dir / "tmp.safetensors");
  put("fuzz_safetensors", "mixed_dtypes", mixed_dtypes());
}

void crossbar_seeds() {
  for (const std::string& p : sxb::crossbar_presets()) put("fuzz_crossbar_config", p, sxb::crossbar_preset(p).to_json().dump(1));
  put("fuzz_crossbar_config", "keys",
      R"({"preset": "default", "tile": "32x64", "r_wire": 2.5, "levels": 16, "variation_sigma": 0.05,)"
      R"( "stuck_at_gmin": 0.01, "seed": 7, "calibration": "column", "scale_mode": "percentile",)"
      R"( "scale_percentile": 99.5})");
}

void layout_seeds() {
  sxb::NetworkLayout dense;
  dense.tile_rows = dense.tile_cols = 4;
  dense.layers = {sxb::dense_layout("features.0", 9, 6, 4, 4), sxb::dense_layout("classifier", 6, 3, 4, 4)};
  put("fuzz_layout_json", "dense", to_json(dense).dump());
  sxb::NetworkLayout packed;
  packed.method = "xcs";
  packed.tile_rows = packed.tile_cols = 4;
  sxb::LayerLayout l{"features.0", 8, 8, {{{0, 1, 2, 3}, {0, 2, 5}}, {{4, 5, 6, 7}, {1, 6, 7, 3}}}};
  packed.layers = {l};
  sxb::write_layout_file((out_dir / "tmp.json").string(), packed, {{"pruning", {{"sparsity", 0.5}}}});
  put("fuzz_layout_json", "xcs_with_extra", slurp(out_dir / "tmp.json"));
  fs::remove(out_dir / "tmp.json");
}

void cifar_seeds() {
  for (int kind = 0; kind < 3; ++kind) {
    const int label_bytes = kind == 0 ? 1 : 2;
    std::string bytes(1, static_cast<char>(kind));
    for (int r = 0; r < 2; ++r) {
      for (int b = 0; b < label_bytes; ++b) bytes.push_back(static_cast<char>(3 + r + b));
      for (int k = 0; k < sxb::kImageBytes; ++k) bytes.push_back(static_cast<char>((k * 13 + r) & 0xff));
    }
    put("fuzz_cifar", kind == 0 ? "cifar10" : kind == 1 ? "cifar100_fine" : "cifar100_coarse", bytes);
  }
}

void append(void* context, void* data, int size) { static_cast<std::string*>(context)->append(static_cast<char*>(data), size); }

void image_seeds() {
  std::vector<unsigned char> px(32 * 32 * 4);
  for (std::size_t k = 0; k < px.size(); ++k) px[k] = static_cast<unsigned char>((k * 37) & 0xff);
  std::string png, gray, jpg, small;
  stbi_write_png_to_func(append, &png, 32, 32, 3, px.data(), 32 * 3);
  stbi_write_png_to_func(append, &gray, 32, 32, 1, px.data(), 32);
  stbi_write_jpg_to_func(append, &jpg, 32, 32, 3, px.data(), 50);
  stbi_write_png_to_func(append, &small, 8, 8, 4, px.data(), 8 * 4);
  put("fuzz_image", "rgb.png", png);
  put("fuzz_image", "gray.png", gray);
  put("fuzz_image", "rgb.jpg", jpg);
  put("fuzz_image", "small_rgba.png", small);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  out_dir = argv[1];
  fs::create_directories(out_dir);
  const fs::path source = argv[2];
  safetensors_seeds();
  crossbar_seeds();
  layout_seeds();
  cifar_seeds();
  image_seeds();
  put("fuzz_tile_json", "example_tile.json", slurp(source / "data/example_tile.json"));
  put("fuzz_tile_json", "one_cell.json", R"({"rows": 1, "cols": 1, "conductance": [[1e-5]], "backend": "reference"})");
  put("fuzz_sweep_file", "sweep_example.json", slurp(source / "data/sweep_example.json"));
  put("fuzz_sweep_file", "sweep_pruning.json", slurp(source / "data/sweep_pruning.json"));
  put("fuzz_sweep_file", "small.json",
      R"({"name": "s", "base": {"model": "vgg11", "width": 0.125, "data": "synthetic:64", "train": {"epochs": 1}},)"
      R"( "grid": {"crossbar.levels": [0, 8], "rearrange": ["none", "sort"]}})");
  return 0;
}
