// Structured pruning for crossbars: channel/filter (cf), crossbar
// column sparsity (xcs) and crossbar row sparsity (xrs).
//
// Groups of a layer matrix W (K x N, engine/crossbar/mapping.h: W[k][n] is element
// n*K + k of the PyTorch weight [N, K...]) for tiles of R x C:
//   cf   group n = filter n, W[0:K, n]                      (N groups)
//   xcs  group b*N + n = column segment W[bR:(b+1)R, n]      (ceil(K/R) * N)
//   xrs  group c*K + k = row segment    W[k, cC:(c+1)C]      (ceil(N/C) * K)
// (the last block of a layer may be shorter). Every weight is in exactly one
// group. Group norms are L2 norms accumulated in double, in element order.
//
// Group lasso: the penalty lambda * sum_g sqrt(|g|) ||w_g||_2 (the usual
// group-size weighting of Yuan & Lin, so that lambda means the same for the
// small xcs/xrs segments and the large cf filters) is applied as its
// proximal operator after every SGD step with the step's learning rate lr
// (soft thresholding of the group norm):
//   w_g <- w_g * max(0, 1 - lr * lambda * sqrt(|g|) / ||w_g||)
// i.e. the RMS weight of a group shrinks by lr * lambda per step, and a
// group whose RMS weight is at most lr * lambda becomes exactly zero.
//
// Hard pruning (select_groups): groups are ranked by score = ||w_g|| /
// sqrt(|g|) (the RMS weight, so groups of different layers and sizes
// compare), ascending; ties go to the lower layer index, then the lower
// group index. Global mode removes groups in that order until the removed
// weights reach `sparsity` of all mapped weights of the network (cf counts
// the input channels of the next layer that go with a filter), taking at
// most max_layer_fraction of any layer's groups and always leaving one.
// Per-layer mode removes round(target * groups) groups of each layer (at
// most groups - 1). Layers that are not prunable keep every group.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/layer_layout.h"
#include "models/io/safetensors.h"
#include "models/vgg.h"

namespace sxb {

enum class PruneMethod { ChannelFilter, ColumnSegments, RowSegments };

// "cf", "xcs", "xrs"; anything else is an Error.
PruneMethod parse_prune_method(const std::string& name);
const char* method_name(PruneMethod method);

// The groups of one K x N layer matrix.
struct GroupGeometry {
  PruneMethod method = PruneMethod::ColumnSegments;
  int inputs = 0, outputs = 0;        // K, N
  int tile_rows = kDefaultTileDim, tile_cols = kDefaultTileDim;  // R, C

  std::size_t count() const;
  int size(std::size_t group) const;  // weights in the group
  // Calls f(offset) for every weight of `group`; offset = n * K + k indexes
  // the PyTorch weight array, in increasing k (cf, xcs) or n (xrs).
  template <class F>
  void for_each(std::size_t group, F&& f) const;
};

// ||w_g||_2 of every group (weight: the PyTorch array, N * K floats).
std::vector<double> group_norms(const GroupGeometry& g, const float* weight);
// The proximal step of the group lasso with step = lr * lambda: each group's
// norm is soft-thresholded by step * sqrt(|g|) (see above).
void proximal_group_lasso(const GroupGeometry& g, double step, float* weight);
// mask[offset] = keep[group of offset] (N * K bytes).
void group_mask(const GroupGeometry& g, const std::vector<std::uint8_t>& keep, std::uint8_t* mask);
// xcs: per row-block b, the kept columns in increasing order, cut into
// ceil(s_b / C) tiles holding all rows of the block. xrs: per column-block
// c, the kept rows cut into ceil(s_c / R) tiles holding all columns of the
// block. A block with no kept group has no tile. cf is an Error (a cf layer
// is dense after shrinking: use dense_layout).
LayerLayout packed_layout(const std::string& layer, const GroupGeometry& g, const std::vector<std::uint8_t>& keep);

// One mapped layer as the selection sees it.
struct LayerGroups {
  std::string layer;
  GroupGeometry geometry;
  std::vector<double> norms;  // one per group
  bool prunable = false;
  double target = 0.0;  // per-layer mode: fraction of the groups to remove
};

struct SelectionPolicy {
  bool per_layer = false;
  double sparsity = 0.0;             // global mode: fraction of all mapped weights to remove
  double max_layer_fraction = 0.95;  // global mode: of any layer's groups
};

struct Selection {
  std::vector<std::vector<std::uint8_t>> keep;  // per layer, per group (1: kept)
  long long dense_weights = 0;                  // all mapped weights before pruning
  long long removed_weights = 0;                // cf: including the next layers' input channels
  bool reached = true;                          // global mode: the target was met
  double sparsity() const {
    return dense_weights ? static_cast<double>(removed_weights) / static_cast<double>(dense_weights) : 0.0;
  }
};

// `layers` in network order. For cf, layer l + 1's inputs are layer l's
// outputs times its kernel area (K_{l+1} / N_l), and the last layer (the
// classifier) must not be prunable.
Selection select_groups(const std::vector<LayerGroups>& layers, const SelectionPolicy& policy);

// --- On a VGG model ------------------------------------------------------------

struct PruneSpec {
  PruneMethod method = PruneMethod::ColumnSegments;
  int tile_rows = kDefaultTileDim, tile_cols = kDefaultTileDim;
  double sparsity = 0.0;  // global target, or the per-layer default
  bool per_layer = false;
  std::map<std::string, double> layer_targets;  // per-layer mode: layer -> fraction of its groups
  // Policy for the first conv layer and the classifier: exempt unless asked
  // (or listed in layer_targets). cf never prunes the classifier's outputs.
  bool prune_first = false, prune_classifier = false;
  double max_layer_sparsity = 0.95;

  void check(const std::string& path = "prune") const;  // Error naming the bad key ("<path>.sparsity")
  nlohmann::json to_json() const;
  bool operator==(const PruneSpec&) const = default;
};

// Per-layer targets from a JSON object {"features.3": 0.5, ...} (errors name `path`).
std::map<std::string, double> read_layer_targets(const std::string& path);

// The weight layers whose groups may be pruned under `spec`; layer names in
// spec.layer_targets that the model lacks are an Error.
std::vector<std::string> prunable_layers(nn::Vgg& model, const PruneSpec& spec);
std::vector<LayerGroups> network_groups(nn::Vgg& model, const PruneSpec& spec);

// The group-lasso proximal step on every prunable layer (step = lr * lambda).
void apply_group_lasso(nn::Vgg& model, const PruneSpec& spec, double step);

struct LayerPruning {
  std::string layer;
  std::size_t groups = 0, removed_groups = 0;
  std::vector<int> kept_channels;  // cf conv layers: the original output channels kept
};

struct PrunedNetwork {
  nn::VggConfig config;     // cf: with the explicit channel list
  SafetensorsFile weights;  // state dict (zeros at pruned weights; cf: shrunk tensors)
  NetworkLayout layout;     // method, tile size, packed tiles of every mapped layer
  std::vector<LayerPruning> layers;
  Selection selection;
};

PrunedNetwork hard_prune(nn::Vgg& model, const PruneSpec& spec);

// The state dict of a model of `config` restricted to the output channels
// `kept[l]` (increasing) of conv layer l: conv weights and biases, the
// batch-norm entries, the next conv's input channels and, after the last
// conv, the classifier's input columns. `shrunk` receives the configuration
// with the explicit channel list.
SafetensorsFile keep_channels(const SafetensorsFile& state, const nn::VggConfig& config,
                              const std::vector<std::vector<int>>& kept, nn::VggConfig* shrunk);

// Masks of fine-tuning from a layout: every weight of a mapped layer that no
// tile holds is set to 0 and masked (nn::Parameter::mask), so SGD holds it
// (and its momentum) at exactly 0. Layers whose weights are all held get no
// mask. Returns the number of masked weights.
long long set_masks(nn::Vgg& model, const NetworkLayout& layout);

}  // namespace sxb

// --- inline ---------------------------------------------------------------------

template <class F>
void sxb::GroupGeometry::for_each(std::size_t group, F&& f) const {
  const std::size_t K = static_cast<std::size_t>(inputs), N = static_cast<std::size_t>(outputs);
  switch (method) {
    case PruneMethod::ChannelFilter:
      for (std::size_t k = 0; k < K; ++k) f(group * K + k);
      break;
    case PruneMethod::ColumnSegments: {
      const std::size_t b = group / N, n = group % N, R = static_cast<std::size_t>(tile_rows);
      for (std::size_t k = b * R; k < std::min(K, (b + 1) * R); ++k) f(n * K + k);
      break;
    }
    case PruneMethod::RowSegments: {
      const std::size_t c = group / K, k = group % K, C = static_cast<std::size_t>(tile_cols);
      for (std::size_t n = c * C; n < std::min(N, (c + 1) * C); ++n) f(n * K + k);
      break;
    }
  }
}
