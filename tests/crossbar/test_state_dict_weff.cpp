// Effective weights of any state dict (engine/crossbar/state_dict_weff.h):
// a VGG's W_eff equal to `evaluate`'s, the input back with zero parasitics in
// every float dtype, grouped convolutions per group, tensors copied byte for
// byte, and clear errors for what cannot be mapped.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include <fmt/format.h>

#include "engine/crossbar/state_dict_weff.h"
#include "engine/crossbar/weff_cache.h"
#include "engine/evaluation/effective_model.h"
#include "engine/evaluation/model_evaluation.h"
#include "models/io/safetensors.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

RawTensor tensor(const std::string& dtype, std::vector<std::int64_t> shape, std::uint64_t seed) {
  RawTensor t{dtype, std::move(shape), {}};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  for (float& x : v) x = u(rng);
  encode_floats(v, t, "t");
  return t;
}

StateDictWeffOptions options(const std::string& preset, int tile) {
  StateDictWeffOptions o;
  o.crossbar = crossbar_preset(preset);
  o.crossbar.tile_rows = o.crossbar.tile_cols = tile;
  o.backend = Backend::Cpu;
  return o;
}

// A small state dict: a conv, a grouped conv, linears in every float dtype,
// a batch-norm weight, an I64 counter and a tensor of a dtype nobody decodes.
RawSafetensors small_state_dict() {
  RawSafetensors f;
  f.metadata["format"] = "pt";
  f.tensors["conv1.weight"] = tensor("F32", {8, 3, 3, 3}, 1);
  f.tensors["conv1.bias"] = tensor("F32", {8}, 2);
  f.tensors["dw.weight"] = tensor("F16", {8, 2, 3, 3}, 3);  // groups 4
  f.tensors["bn.weight"] = tensor("F32", {8}, 4);
  f.tensors["bn.num_batches_tracked"] = RawTensor{"I64", {}, std::string(8, '\x07')};
  f.tensors["fc1.weight"] = tensor("BF16", {12, 20}, 5);
  f.tensors["fc2.weight"] = tensor("F64", {10, 12}, 6);
  f.tensors["mask"] = RawTensor{"F8_E4M3", {2, 2}, "wxyz"};
  return f;
}

TEST(StateDictWeff, VggGivesTheEffectiveWeightsOfEvaluate) {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig config;
  config.width = 0.125;
  nn::Vgg model(config, *backend);
  model.init(7);
  const std::string dir = test::fresh_dir("weff_vgg").string(), path = dir + "/vgg.safetensors";
  write_safetensors(path, model.state_dict());

  StateDictWeffOptions o = options("default", 16);
  o.crossbar.variation_sigma = 0.05;  // draws keyed by layer name and tile: the names must agree
  o.crossbar.stuck_at_gmin = 0.01;
  ModelEvalRequest request;
  request.weights = path;
  request.config = model.config();
  request.options.crossbar = o.crossbar;
  request.options.backend = Backend::Cpu;
  request.options.cache_dir = dir + "/cache";
  const Dataset test_set = load_dataset("synthetic:16", Split::Test);
  const CrossbarEvalResult evaluated = evaluate_model_file(request, *backend, test_set);
  const NetworkLayout layout = dense_network_layout(mapped_layers(model), 16, 16);
  // The entry as evaluate stored it: its own identity, checked against its checksum on load.
  const WeffCacheEntry entry{evaluated.report.cache_file,
                             nlohmann::json::parse(read_safetensors(evaluated.report.cache_file).metadata.at("identity"))};
  const auto cached = load_weff_cache(entry, layout);
  ASSERT_TRUE(cached) << "evaluate stored no W_eff in " << evaluated.report.cache_file;

  const RawSafetensors in = read_safetensors_raw(path);
  const StateDictWeff r = state_dict_weff(in, path, o);
  EXPECT_EQ(r.crossbars(), evaluated.report.crossbars);
  ASSERT_EQ(r.tensors.size(), cached->size());
  double change = 0.0;
  for (const LayerEffective& e : *cached) {
    const std::string name = e.layer + ".weight";
    const RawTensor& out = r.file.tensors.at(name);
    EXPECT_EQ(out.shape, in.tensors.at(name).shape);
    EXPECT_EQ(out.dtype, "F32");
    std::vector<float> expected(e.w_eff.size());
    weight_from_layer_matrix(e.w_eff.data(), e.outputs, e.inputs, expected.data());
    EXPECT_EQ(decode_floats(out, name), expected) << name;
    const std::vector<float> w = decode_floats(in.tensors.at(name), name);
    for (std::size_t k = 0; k < w.size(); ++k) change = std::max(change, static_cast<double>(std::abs(w[k] - expected[k])));
  }
  EXPECT_GT(change, 1e-3) << "the non-ideal W_eff should differ from W";
  for (const std::string& name : r.copied) EXPECT_EQ(r.file.tensors.at(name).bytes, in.tensors.at(name).bytes) << name;
  EXPECT_EQ(r.file.tensors.size(), in.tensors.size());
  EXPECT_EQ(r.file.metadata, in.metadata);
}

TEST(StateDictWeff, ZeroParasiticsGiveBackTheInputInItsDtype) {
  const RawSafetensors in = small_state_dict();
  StateDictWeffOptions o = options("ideal", 8);
  o.groups["dw.weight"] = 4;
  const StateDictWeff r = state_dict_weff(in, "small", o);
  ASSERT_EQ(r.tensors.size(), 4u);  // conv1, dw, fc1, fc2
  EXPECT_EQ(r.copied, (std::vector<std::string>{"bn.num_batches_tracked", "bn.weight", "conv1.bias", "mask"}));
  for (const std::string& name : r.copied) EXPECT_EQ(r.file.tensors.at(name).bytes, in.tensors.at(name).bytes) << name;
  for (const TensorWeff& t : r.tensors) {
    const RawTensor& a = in.tensors.at(t.name);
    const RawTensor& b = r.file.tensors.at(t.name);
    EXPECT_EQ(b.dtype, a.dtype) << t.name;
    EXPECT_EQ(b.shape, a.shape) << t.name;
    EXPECT_LT(t.relative_error, 1e-6) << t.name;
    EXPECT_LT(t.nf.max, 1e-9) << t.name;
    if (a.dtype == "F16" || a.dtype == "BF16") {  // W_eff = W to far below half a 16-bit step
      EXPECT_EQ(b.bytes, a.bytes) << t.name;
    } else {
      const std::vector<float> w = decode_floats(a, t.name), e = decode_floats(b, t.name);
      for (std::size_t k = 0; k < w.size(); ++k) ASSERT_NEAR(e[k], w[k], 1e-6) << t.name << " " << k;
    }
  }
  // The grouped conv: 4 groups of K = 2 * 3 * 3 = 18 rows and 2 columns, 3 positions each on 8 x 8 tiles.
  const TensorWeff& dw = r.tensors[1];
  ASSERT_EQ(dw.name, "dw.weight");
  EXPECT_EQ(dw.groups, 4);
  EXPECT_EQ(dw.inputs, 18);
  EXPECT_EQ(dw.outputs, 2);
  EXPECT_EQ(dw.positions, 12u);
  EXPECT_EQ(r.tensors[0].positions, 4u);  // conv1: K = 27, N = 8 -> 4 x 1
}

TEST(StateDictWeff, GroupsMapEachGroupOnItsOwnTiles) {
  RawSafetensors in;
  in.tensors["dw.weight"] = tensor("F32", {8, 2, 3, 3}, 9);
  StateDictWeffOptions o = options("wire-28", 8);
  const StateDictWeff plain = state_dict_weff(in, "dw", o);
  o.groups["dw.weight"] = 4;
  const StateDictWeff grouped = state_dict_weff(in, "dw", o);
  EXPECT_EQ(plain.crossbars(), 6);
  EXPECT_EQ(grouped.crossbars(), 24);
  EXPECT_NE(plain.file.tensors.at("dw.weight").bytes, grouped.file.tensors.at("dw.weight").bytes);
  EXPECT_GT(grouped.tensors[0].relative_error, 1e-4);  // 28 ohm wires change W
  EXPECT_EQ(grouped.tensors[0].scale, plain.tensors[0].scale);  // one scale for the tensor: max |W|
}

TEST(StateDictWeff, IncludeAndExcludeSelectTensors) {
  const RawSafetensors in = small_state_dict();
  StateDictWeffOptions o = options("ideal", 8);
  o.include = "^fc";
  o.exclude = "fc2";
  const StateDictWeff r = state_dict_weff(in, "small", o);
  ASSERT_EQ(r.tensors.size(), 1u);
  EXPECT_EQ(r.tensors[0].name, "fc1.weight");
  EXPECT_EQ(r.file.tensors.at("fc2.weight").bytes, in.tensors.at("fc2.weight").bytes);
  EXPECT_EQ(r.file.tensors.at("dw.weight").bytes, in.tensors.at("dw.weight").bytes);
  const nlohmann::json j = to_json(r, "small", o);
  EXPECT_EQ(j["layers"][0]["tensor"], "fc1.weight");
  EXPECT_EQ(j["layers"][0]["crossbars"], 2 * 3 * 2);  // K = 20 -> 3, N = 12 -> 2 positions
  EXPECT_EQ(j["crossbars"], 12);
}

TEST(StateDictWeff, WhatCannotBeMappedIsAClearError) {
  const StateDictWeffOptions o = options("ideal", 8);
  const auto error = [&](const RawSafetensors& in, StateDictWeffOptions opt) {
    return test::error_of([&] { state_dict_weff(in, "m.safetensors", opt); });
  };
  RawSafetensors ints;
  ints.tensors["conv.weight"] = RawTensor{"I32", {2, 1, 1, 1}, std::string(8, '\0')};
  EXPECT_NE(error(ints, o).find("'conv.weight' has dtype I32"), std::string::npos) << error(ints, o);
  RawSafetensors odd;
  odd.tensors["conv.weight"] = RawTensor{"U4", {2, 2}, "ab"};
  EXPECT_NE(error(odd, o).find("dtype U4"), std::string::npos) << error(odd, o);

  for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{4, 2, 3}, {2, 2, 2, 2, 2}}) {
    RawSafetensors in;
    in.tensors["conv.weight"] = tensor("F32", shape, 1);
    const std::string e = error(in, o);
    EXPECT_NE(e.find(fmt::format("{}-D", shape.size())), std::string::npos) << e;
    EXPECT_NE(e.find("weff.exclude"), std::string::npos) << e;
    StateDictWeffOptions skip = o;  // excluded, it is copied
    skip.exclude = "conv";
    RawSafetensors with_linear = in;
    with_linear.tensors["fc.weight"] = tensor("F32", {2, 2}, 2);
    EXPECT_EQ(error(with_linear, skip), "");
  }

  // A NaN weight: the error names the file, the tensor and where.
  RawSafetensors nan_in;
  std::vector<float> v = {0.1f, -0.2f, 0.3f, std::nanf(""), 0.5f, 0.6f};
  nan_in.tensors["fc.weight"] = RawTensor{"F32", {2, 3}, {}};
  encode_floats(v, nan_in.tensors["fc.weight"], "t");
  EXPECT_NE(error(nan_in, o).find("m.safetensors: tensor 'fc.weight' has a non-finite weight (nan) at flat index 3"),
            std::string::npos)
      << error(nan_in, o);

  const RawSafetensors in = small_state_dict();
  StateDictWeffOptions nothing = o;
  nothing.include = "^encoder\\.";
  EXPECT_NE(error(in, nothing).find("weff.include '^encoder\\.' matches no tensor of m.safetensors"),
            std::string::npos)
      << error(in, nothing);
  StateDictWeffOptions no_exclude = o;
  no_exclude.exclude = "decoder";
  EXPECT_NE(error(in, no_exclude).find("weff.exclude 'decoder' matches no tensor"), std::string::npos);
  StateDictWeffOptions only_1d = o;
  only_1d.include = "^bn\\.weight$";
  EXPECT_NE(error(in, only_1d).find("nothing to map"), std::string::npos) << error(in, only_1d);
  StateDictWeffOptions bad_regex = o;
  bad_regex.include = "(";
  EXPECT_NE(error(in, bad_regex).find("weff.include '(' is not a valid regular expression"), std::string::npos);
  StateDictWeffOptions groups = o;
  groups.groups["dw.weight"] = 3;
  EXPECT_NE(error(in, groups).find("weff.groups: 'dw.weight' has 8 output channels"), std::string::npos);
  groups.groups = {{"nope.weight", 2}};
  EXPECT_NE(error(in, groups).find("weff.groups names 'nope.weight'"), std::string::npos);
  RawSafetensors twins;
  twins.tensors["fc.weight"] = tensor("F32", {2, 2}, 1);
  twins.tensors["fc"] = tensor("F32", {2, 2}, 2);
  StateDictWeffOptions every = o;
  every.include = "fc";
  EXPECT_NE(error(twins, every).find("tensors 'fc' and 'fc.weight' would both be layer 'fc'"), std::string::npos)
      << error(twins, every);
  groups.groups = {{"fc1.weight", 2}};
  EXPECT_NE(error(in, groups).find("4-D convolution"), std::string::npos);
}

TEST(StateDictWeff, EveryCalibrationComesFromOneSolve) {
  const RawSafetensors in = small_state_dict();
  StateDictWeffOptions o = options("wire-28", 8);
  o.groups["dw.weight"] = 4;
  o.calibrations = {Calibration::Column, Calibration::None, Calibration::Layer, Calibration::Column};
  const StateDictWeff all = state_dict_weff(in, "small", o);
  ASSERT_EQ(all.calibrations, (std::vector<Calibration>{Calibration::Column, Calibration::None, Calibration::Layer}));
  ASSERT_EQ(all.other_files.size(), 2u);
  const RawSafetensors* files[] = {&all.file, &all.other_files[0], &all.other_files[1]};
  for (std::size_t c = 0; c < all.calibrations.size(); ++c) {
    StateDictWeffOptions one = o;  // the same calibration alone, through crossbar.calibration
    one.calibrations.clear();
    one.crossbar.calibration = all.calibrations[c];
    const StateDictWeff single = state_dict_weff(in, "small", one);
    for (const auto& [name, t] : single.file.tensors) EXPECT_EQ(files[c]->tensors.at(name).bytes, t.bytes) << name;
    for (std::size_t k = 0; k < single.tensors.size(); ++k) {
      EXPECT_EQ(all.tensors[k].relative_errors[c], single.tensors[k].relative_error) << single.tensors[k].name;
      EXPECT_EQ(all.tensors[k].gains.mean(), single.tensors[k].gains.mean());
    }
  }
  // 28 ohm wires: the calibrations differ, and column calibration is the closest to W.
  EXPECT_NE(all.file.tensors.at("fc1.weight").bytes, all.other_files[0].tensors.at("fc1.weight").bytes);
  EXPECT_LT(all.tensors[3].relative_errors[0], all.tensors[3].relative_errors[1]);
  EXPECT_GT(all.tensors[3].gains.min, 1.0);  // every column reads low, so every gain exceeds 1
  const nlohmann::json j = to_json(all, "small", o);
  EXPECT_EQ(j["calibrations"], (std::vector<std::string>{"column", "none", "layer"}));
  EXPECT_EQ(j["layers"][3]["relative_errors"]["none"], all.tensors[3].relative_errors[1]);
  EXPECT_EQ(j["layers"][3]["gains"]["max"], all.tensors[3].gains.max);
}

TEST(StateDictWeff, APackedLayoutPlacesTheLayersItNames) {
  RawSafetensors in;
  in.tensors["fc1.weight"] = tensor("F32", {4, 6}, 11);  // K = 6, N = 4
  in.tensors["fc2.weight"] = tensor("F32", {3, 4}, 12);
  StateDictWeffOptions o = options("default", 4);
  NetworkLayout packed;
  packed.method = "xcs";
  packed.tile_rows = packed.tile_cols = 4;
  // fc1 on one tile: rows 0..3, the outputs 1 and 3; rows 4, 5 and outputs 0, 2 are pruned.
  packed.layers.push_back({"fc1", 6, 4, {TilePlacement{{0, 1, 2, 3}, {1, 3}}}});
  o.layout = packed;
  const StateDictWeff r = state_dict_weff(in, "two", o);
  EXPECT_EQ(r.tensors[0].positions, 1u);
  EXPECT_EQ(r.tensors[1].positions, 1u);  // fc2: dense, K = 4, N = 3
  const std::vector<float> w = decode_floats(in.tensors.at("fc1.weight"), "w");
  const std::vector<float> e = decode_floats(r.file.tensors.at("fc1.weight"), "e");
  for (int n = 0; n < 4; ++n)
    for (int k = 0; k < 6; ++k) {
      const float x = e[static_cast<std::size_t>(n) * 6 + k], ref = w[static_cast<std::size_t>(n) * 6 + k];
      if (n % 2 == 0 || k >= 4) EXPECT_EQ(x, 0.0f) << n << " " << k;  // held by no tile
      else EXPECT_NEAR(x, ref, 0.15 * std::abs(ref) + 1e-3) << n << " " << k;  // NF of a 4 x 4 tile: ~6 %
    }
  EXPECT_EQ(to_json(r, "two", o)["layout"], "xcs");

  const auto error = [&](StateDictWeffOptions opt) {
    return test::error_of([&] { state_dict_weff(in, "two", opt); });
  };
  StateDictWeffOptions other_size = o;
  other_size.crossbar.tile_rows = other_size.crossbar.tile_cols = 8;
  EXPECT_NE(error(other_size).find("weff.layout has tiles of 4 x 4, the crossbar configuration 8 x 8"),
            std::string::npos)
      << error(other_size);
  StateDictWeffOptions stranger = o;
  stranger.layout->layers.push_back({"conv9", 4, 4, {TilePlacement{{0}, {0}}}});
  EXPECT_NE(error(stranger).find("weff.layout names layer 'conv9', which is not a mapped layer of two"),
            std::string::npos)
      << error(stranger);
  StateDictWeffOptions wrong_shape = o;
  wrong_shape.layout->layers[0].inputs = 5;
  EXPECT_NE(error(wrong_shape), "");
}

}  // namespace
}  // namespace sxb
