// Effective weights of any state dict (e.g. a PyTorch model's, saved with
// safetensors): every selected convolution weight [N, C/groups, kh, kw] and
// linear weight [N, K] is mapped onto differential tiles through the same path
// as a VGG (layer matrices, mapping scales, dense layouts, the scheduler) and
// replaced by its W_eff in the tensor's own dtype; every other tensor is copied
// byte for byte, so loading the result gives the model as the crossbars compute it.
//
// Selection: a tensor is selected when its name matches `include` (a regex
// searched anywhere in the name; by default names ending in "weight") and not
// `exclude`. Selected 2-D and 4-D tensors are mapped; selected 0-D and 1-D
// tensors (biases, batch-norm weights) are copied; a selected tensor of any
// other rank is an Error. Mapped tensors must be F32, F64, F16 or BF16 (they
// are solved in fp32 and rounded back). A pattern that matches no tensor is an
// Error.
//
// A state dict does not record convolution groups: `groups` names them per
// tensor (G divides N; each group is its own layer matrix of K = C/G kh kw rows
// and N/G columns on its own tiles, all sharing the tensor's mapping scale).
// Layers are named as the tensor without its ".weight" suffix (a VGG's layers
// get the names of `evaluate`, so device draws agree), groups as "<layer>#g<k>".
//
// A packed layout (weff.layout, e.g. a pruned model's) places the layers it
// names on its tiles; the other layers get dense tiles. Its tile size must be
// the configuration's, and each of its layers a mapped layer of the same shape.
// Several read-out calibrations (weff.calibrations) are assembled from one set
// of solved tiles, one output state dict each.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/calibration.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/scheduler.h"
#include "models/io/safetensors_raw.h"

namespace sxb {

inline constexpr const char* kDefaultWeffInclude = "weight$";

struct StateDictWeffOptions {
  CrossbarConfig crossbar;  // tile size included
  Backend backend = Backend::Auto;
  std::string include = kDefaultWeffInclude;  // weff.include (ECMAScript regex)
  std::string exclude;                        // weff.exclude; empty: none
  std::map<std::string, int> groups;          // weff.groups: tensor name -> G
  std::optional<NetworkLayout> layout;        // weff.layout; default: dense tiles
  // weff.calibrations, in order (repeats dropped); empty: crossbar.calibration.
  std::vector<Calibration> calibrations;
  std::function<void(const std::string&)> log;
};

// One mapped tensor.
struct TensorWeff {
  std::string name, layer, dtype;
  std::vector<std::int64_t> shape;
  int groups = 1;
  int inputs = 0, outputs = 0;  // K and N of one group's layer matrix
  std::size_t positions = 0;    // tile pairs (positions x weight slices), all groups (crossbars = 2 x positions)
  long long clipped = 0;
  double scale = 0.0;
  std::string scale_source;  // kScaleFrom* of engine/crossbar/wct.h
  NfStats nf;                // every used column of every tile
  GainStats gains;           // column gains of both arrays, every used column
  double high_share = 0.0;   // devices at or above (G_min + G_max) / 2
  double relative_error = 0.0;  // ||W_eff - W||_F / ||W||_F (0 for W = 0), first calibration
  std::vector<double> relative_errors;  // the same per calibration, in StateDictWeff::calibrations order
};

struct StateDictWeff {
  RawSafetensors file;  // the input with every mapped tensor replaced (first calibration)
  std::vector<Calibration> calibrations;  // assembled, file's first
  std::vector<RawSafetensors> other_files;  // the other calibrations' state dicts, in order
  std::vector<TensorWeff> tensors;
  std::vector<std::string> copied;  // names of the tensors copied unchanged
  Backend backend = Backend::Cpu;   // resolved
  ScheduleStats schedule;
  double seconds = 0.0;

  long long crossbars() const;
};

// `source` names the state dict in errors (e.g. its file).
StateDictWeff state_dict_weff(const RawSafetensors& in, const std::string& source, const StateDictWeffOptions& o);

// {"source", "crossbar", "backend", "tile_rows", "tile_cols", "layout",
//  "calibrations", "crossbars", "nf": {"mean", "max"}, "layers": [{"tensor",
//  "layer", "shape", "dtype", "groups", "inputs", "outputs", "crossbars",
//  "scale", "scale_source", "clipped", "nf": {"mean", "max"},
//  "gains": {"mean", "min", "max"}, "high_share", "relative_error",
//  "relative_errors": {calibration: error}}], "copied": [...], "seconds", "version"}
nlohmann::json to_json(const StateDictWeff& r, const std::string& source, const StateDictWeffOptions& o);

}  // namespace sxb
