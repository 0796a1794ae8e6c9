// Groups, group norms, the group-lasso proximal step, selection and packing
// (engine/pruning/pruning.h). The model-level operations are in pruning_model.cpp.
#include "engine/pruning/pruning.h"

#include <fmt/format.h>

#include <cmath>
#include <numeric>

#include "kernels/common/error.h"

namespace sxb {

PruneMethod parse_prune_method(const std::string& name) {
  if (name == "cf") return PruneMethod::ChannelFilter;
  if (name == "xcs") return PruneMethod::ColumnSegments;
  if (name == "xrs") return PruneMethod::RowSegments;
  throw Error("pruning method '" + name + "' is not one of cf, xcs, xrs");
}

const char* method_name(PruneMethod method) {
  switch (method) {
    case PruneMethod::ChannelFilter: return "cf";
    case PruneMethod::ColumnSegments: return "xcs";
    case PruneMethod::RowSegments: return "xrs";
  }
  return "?";
}

namespace {

std::size_t blocks(int extent, int tile) { return static_cast<std::size_t>((extent + tile - 1) / tile); }

}  // namespace

std::size_t GroupGeometry::count() const {
  switch (method) {
    case PruneMethod::ChannelFilter: return static_cast<std::size_t>(outputs);
    case PruneMethod::ColumnSegments: return blocks(inputs, tile_rows) * static_cast<std::size_t>(outputs);
    case PruneMethod::RowSegments: return blocks(outputs, tile_cols) * static_cast<std::size_t>(inputs);
  }
  return 0;
}

int GroupGeometry::size(std::size_t group) const {
  switch (method) {
    case PruneMethod::ChannelFilter: return inputs;
    case PruneMethod::ColumnSegments: {
      const int b = static_cast<int>(group / static_cast<std::size_t>(outputs));
      return std::min(inputs, (b + 1) * tile_rows) - b * tile_rows;
    }
    case PruneMethod::RowSegments: {
      const int c = static_cast<int>(group / static_cast<std::size_t>(inputs));
      return std::min(outputs, (c + 1) * tile_cols) - c * tile_cols;
    }
  }
  return 0;
}

std::vector<double> group_norms(const GroupGeometry& g, const float* weight) {
  std::vector<double> norms(g.count());
  for (std::size_t group = 0; group < norms.size(); ++group) {
    double s = 0.0;
    g.for_each(group, [&](std::size_t i) { s += static_cast<double>(weight[i]) * weight[i]; });
    norms[group] = std::sqrt(s);
  }
  return norms;
}

void proximal_group_lasso(const GroupGeometry& g, double step, float* weight) {
  SXB_REQUIRE(std::isfinite(step) && step >= 0.0, fmt::format("group lasso: step {} must be finite and >= 0", step));
  const std::size_t n = g.count();
  for (std::size_t group = 0; group < n; ++group) {
    const double threshold = step * std::sqrt(static_cast<double>(g.size(group)));
    double s = 0.0;
    g.for_each(group, [&](std::size_t i) { s += static_cast<double>(weight[i]) * weight[i]; });
    const double norm = std::sqrt(s);
    const double factor = norm > threshold ? 1.0 - threshold / norm : 0.0;
    if (factor == 1.0) continue;
    g.for_each(group, [&](std::size_t i) { weight[i] = static_cast<float>(weight[i] * factor); });
  }
}

void group_mask(const GroupGeometry& g, const std::vector<std::uint8_t>& keep, std::uint8_t* mask) {
  SXB_REQUIRE(keep.size() == g.count(), fmt::format("group mask: {} flags for {} groups", keep.size(), g.count()));
  for (std::size_t group = 0; group < keep.size(); ++group)
    g.for_each(group, [&](std::size_t i) { mask[i] = keep[group] ? 1 : 0; });
}

LayerLayout packed_layout(const std::string& layer, const GroupGeometry& g, const std::vector<std::uint8_t>& keep) {
  SXB_REQUIRE(keep.size() == g.count(),
              fmt::format("layer '{}': {} keep flags for {} groups", layer, keep.size(), g.count()));
  const int K = g.inputs, N = g.outputs, R = g.tile_rows, C = g.tile_cols;
  LayerLayout out{layer, K, N, {}};
  auto range = [](int begin, int end) {
    std::vector<int> v(static_cast<std::size_t>(end - begin));
    std::iota(v.begin(), v.end(), begin);
    return v;
  };
  switch (g.method) {
    case PruneMethod::ChannelFilter:
      throw Error("layer '" + layer + "': a cf layer is dense once shrunk (use dense_layout)");
    case PruneMethod::ColumnSegments:
      for (int b = 0; b * R < K; ++b) {
        const std::vector<int> rows = range(b * R, std::min(K, (b + 1) * R));
        std::vector<int> survivors;
        for (int n = 0; n < N; ++n)
          if (keep[static_cast<std::size_t>(b) * N + n]) survivors.push_back(n);
        for (std::size_t s = 0; s < survivors.size(); s += C)
          out.tiles.push_back({rows, std::vector<int>(survivors.begin() + static_cast<std::ptrdiff_t>(s),
                                                      survivors.begin() + static_cast<std::ptrdiff_t>(
                                                                              std::min(survivors.size(), s + C)))});
      }
      break;
    case PruneMethod::RowSegments:
      for (int c = 0; c * C < N; ++c) {
        const std::vector<int> cols = range(c * C, std::min(N, (c + 1) * C));
        std::vector<int> survivors;
        for (int k = 0; k < K; ++k)
          if (keep[static_cast<std::size_t>(c) * K + k]) survivors.push_back(k);
        for (std::size_t s = 0; s < survivors.size(); s += R)
          out.tiles.push_back({std::vector<int>(survivors.begin() + static_cast<std::ptrdiff_t>(s),
                                                survivors.begin() + static_cast<std::ptrdiff_t>(
                                                                        std::min(survivors.size(), s + R))),
                               cols});
      }
      break;
  }
  return out;
}

// --- Selection ---------------------------------------------------------------------

namespace {

struct Candidate {
  double score;
  std::size_t layer, group;
};

// Removal bookkeeping. For xcs/xrs a group's weights are its own; for cf the
// alive weights of layer l are in_alive[l] * area[l] * out_alive[l] with
// in_alive[l] = out_alive[l - 1] (and the input image's channels for l = 0).
class Removal {
 public:
  Removal(const std::vector<LayerGroups>& layers, PruneMethod method) : layers_(layers), method_(method) {
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const GroupGeometry& g = layers[l].geometry;
      SXB_REQUIRE(g.method == method, "select_groups: every layer must use the same method");
      SXB_REQUIRE(layers[l].norms.size() == g.count(),
                  fmt::format("layer '{}': {} norms for {} groups", layers[l].layer, layers[l].norms.size(), g.count()));
      dense_ += static_cast<long long>(g.inputs) * g.outputs;
      out_alive_.push_back(g.outputs);
      if (method == PruneMethod::ChannelFilter) {
        if (l == 0) {
          area_.push_back(1);
          in_alive_.push_back(g.inputs);
        } else {
          const int prev = layers[l - 1].geometry.outputs;
          SXB_REQUIRE(g.inputs % prev == 0,
                      fmt::format("layer '{}': {} inputs is not a multiple of the {} channels of '{}'",
                                  layers[l].layer, g.inputs, prev, layers[l - 1].layer));
          area_.push_back(g.inputs / prev);
          in_alive_.push_back(prev);
        }
      }
      removed_groups_.push_back(0);
    }
    if (method == PruneMethod::ChannelFilter && !layers.empty())
      SXB_REQUIRE(!layers.back().prunable, "cf cannot prune the outputs of the last layer '" + layers.back().layer +
                                               "' (they are the classes)");
  }

  long long dense() const { return dense_; }
  long long removed() const { return removed_; }
  std::size_t removed_groups(std::size_t l) const { return removed_groups_[l]; }

  void remove(std::size_t l, std::size_t group) {
    ++removed_groups_[l];
    if (method_ != PruneMethod::ChannelFilter) {
      removed_ += layers_[l].geometry.size(group);
      return;
    }
    // Filter `group` of layer l: its in_alive * area weights, and one input
    // channel (area weights per alive output) of layer l + 1.
    removed_ += static_cast<long long>(in_alive_[l]) * area_[l];
    --out_alive_[l];
    if (l + 1 < layers_.size()) {
      removed_ += static_cast<long long>(area_[l + 1]) * out_alive_[l + 1];
      --in_alive_[l + 1];
    }
  }

 private:
  const std::vector<LayerGroups>& layers_;
  PruneMethod method_;
  long long dense_ = 0, removed_ = 0;
  std::vector<int> area_, in_alive_, out_alive_;
  std::vector<std::size_t> removed_groups_;
};

std::vector<Candidate> ranked(const std::vector<LayerGroups>& layers, bool only_prunable) {
  std::vector<Candidate> c;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    if (only_prunable && !layers[l].prunable) continue;
    const GroupGeometry& g = layers[l].geometry;
    for (std::size_t group = 0; group < layers[l].norms.size(); ++group)
      c.push_back({layers[l].norms[group] / std::sqrt(static_cast<double>(g.size(group))), l, group});
  }
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score < b.score;
    if (a.layer != b.layer) return a.layer < b.layer;
    return a.group < b.group;
  });
  return c;
}

}  // namespace

Selection select_groups(const std::vector<LayerGroups>& layers, const SelectionPolicy& policy) {
  SXB_REQUIRE(!layers.empty(), "select_groups: no layers");
  const PruneMethod method = layers.front().geometry.method;
  Removal removal(layers, method);
  Selection sel;
  for (const LayerGroups& l : layers) sel.keep.emplace_back(l.norms.size(), 1);
  sel.dense_weights = removal.dense();

  if (policy.per_layer) {
    for (std::size_t l = 0; l < layers.size(); ++l) {
      if (!layers[l].prunable) continue;
      const double t = layers[l].target;
      SXB_REQUIRE(std::isfinite(t) && t >= 0.0 && t < 1.0,
                  fmt::format("layer '{}': target {} is not in [0, 1)", layers[l].layer, t));
      const std::size_t groups = layers[l].norms.size();
      const std::size_t n = std::min(groups - 1, static_cast<std::size_t>(std::llround(t * groups)));
      std::vector<LayerGroups> one{layers[l]};
      one[0].prunable = true;
      const std::vector<Candidate> order = ranked(one, true);
      for (std::size_t r = 0; r < n; ++r) {
        sel.keep[l][order[r].group] = 0;
        removal.remove(l, order[r].group);
      }
    }
  } else {
    SXB_REQUIRE(std::isfinite(policy.sparsity) && policy.sparsity >= 0.0 && policy.sparsity < 1.0,
                fmt::format("sparsity {} is not in [0, 1)", policy.sparsity));
    SXB_REQUIRE(policy.max_layer_fraction >= 0.0 && policy.max_layer_fraction < 1.0,
                fmt::format("max layer sparsity {} is not in [0, 1)", policy.max_layer_fraction));
    const long long goal = static_cast<long long>(std::ceil(policy.sparsity * static_cast<double>(removal.dense())));
    std::vector<std::size_t> cap(layers.size());
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const std::size_t groups = layers[l].norms.size();
      cap[l] = std::min(groups - 1, static_cast<std::size_t>(std::floor(policy.max_layer_fraction * groups)));
    }
    for (const Candidate& c : ranked(layers, true)) {
      if (removal.removed() >= goal) break;
      if (removal.removed_groups(c.layer) >= cap[c.layer]) continue;
      sel.keep[c.layer][c.group] = 0;
      removal.remove(c.layer, c.group);
    }
    sel.reached = removal.removed() >= goal;
  }
  sel.removed_weights = removal.removed();
  return sel;
}

}  // namespace sxb
