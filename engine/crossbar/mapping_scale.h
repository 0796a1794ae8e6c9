// Mapping-scale policies: which weight magnitude each crossbar column maps to
// G_max.
//
// A weight w on column j of a tile pair is programmed with that column's
// scale s_j (engine/crossbar/mapping.h):
//   g+ = G_min + (G_max - G_min) max(w, 0) / s_j,  |w| > s_j clipped to s_j,
// and the digital side multiplies the column's output by s_j / (G_max - G_min),
// so with an ideal crossbar W_eff = W whatever the policy (clipping aside).
//
//   layer-max   s_j = s of the layer: config.scale when > 0, else s_ref of a
//               WCT model, else max |W| over the layer (the default);
//   tile-max    s_j = max |w| over the weights the tile pair holds;
//   column-max  s_j = max |w| over the weights the tile column holds;
//   percentile  s_j = s of the layer: the p-th percentile (nearest rank) of
//               |w| over the layer's nonzero weights; larger |w| are clipped.
// A tile or column whose weights are all 0 gets s_j = 1 (nothing to map), as
// does a layer with no nonzero weight. config.scale and WCT scales apply to
// layer-max only.
#pragma once

#include <string>
#include <vector>

#include "engine/crossbar/layer_layout.h"

namespace sxb {

enum class ScaleMode { LayerMax, TileMax, ColumnMax, Percentile };

std::vector<std::string> scale_mode_names();  // layer-max, tile-max, column-max, percentile
// Error naming `field` and the accepted names for anything else.
ScaleMode parse_scale_mode(const std::string& name, const std::string& field);
std::string to_string(ScaleMode mode);

// Nearest-rank percentile p in (0, 100] of |w| over the nonzero entries of
// `matrix`: the ceil(p n / 100)-th smallest of the n nonzero |w| (p = 100:
// max |W|); 1 when every entry is 0.
double percentile_abs(const std::vector<float>& matrix, double percentile);

// The span of a layer's weights: max |W| over the median nonzero |W| (1 for
// an all-zero matrix). Trained layers span a few hundred at most; above
// kSuspectWeightSpan the median weight maps below a millionth of the
// conductance window with one scale per layer, far below any device's
// resolution, and the weights are most likely damaged.
inline constexpr double kSuspectWeightSpan = 1e6;
double weight_span(const std::vector<float>& matrix);

// The scale of every used column of tile `p` (p.cols.size() values) of the
// K x N layer matrix `matrix` (N = outputs) under `mode`; `layer_scale` is the
// layer's scale s for layer-max and percentile.
std::vector<double> tile_column_scales(const std::vector<float>& matrix, int outputs, const TilePlacement& p,
                                       ScaleMode mode, double layer_scale);

// min / mean / max of a per-tile or per-column quantity over a layer.
struct MinMeanMax {
  double min = 0.0, mean = 0.0, max = 0.0;
};

}  // namespace sxb
