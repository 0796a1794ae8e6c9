// Weight-constrained training (WCT): (fine-)training in which every
// weight of a mapped layer (every conv and the classifier) is clamped after
// each optimiser step to |w| <= kappa * s_ref, where s_ref is the layer's
// mapping scale before WCT. The crossbar mapping then keeps s = s_ref, so
// every conductance lies in [G_min, G_min + kappa (G_max - G_min)].
//
// s_ref of a training (start_wct): the WCT scales of the starting weights
// file when it carries them (a WCT model trained further keeps its mapping
// scale), else max |W| of each mapped layer of the starting model: the init_weights
// weights, the hard-pruned model before fine-tuning, or the random
// initialisation. A resumed training takes them from its checkpoint.
//
// Stored in the safetensors __metadata__ of the checkpoint and the model:
//   "wct_kappa":  "0.5"                                   (kappa, in (0, 1])
//   "wct_scales": "{\"classifier\": 0.61, \"features.0\": 0.83, ...}"
//                 (JSON object: s_ref > 0 of every mapped layer)
//   "wct_origin": "max|W| of init.safetensors"            (for the record)
// `evaluate` maps those layers with s = s_ref (engine/evaluation/crossbar_eval.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/io/safetensors.h"
#include "models/vgg.h"

namespace sxb {

struct CrossbarConfig;
struct MappedLayer;

struct WctScales {
  double kappa = 0.0;                      // in (0, 1]
  std::map<std::string, double> s_ref;     // per mapped layer, > 0
  std::string origin;                      // how s_ref was found (for the record)
  std::string file;                        // the file it was read from; empty when computed

  // The clamp bound of `layer`: the largest float b with b <= kappa * s_ref.
  float bound(const std::string& layer) const;
};

// Error "<option> K is not in (0, 1]" unless 0 < kappa <= 1.
void check_wct_kappa(double kappa, const std::string& option);

// max |W| of every mapped layer of `model` (1 for an all-zero layer): the
// mapping scale `evaluate` chooses by default (engine/crossbar/scheduler.h).
std::map<std::string, double> max_abs_scales(nn::Vgg& model);

// The WCT of a training that starts from `model`: s_ref = `inherited`'s
// scales when given (checked against the model's layers), else
// max_abs_scales(model); `origin` says where the model came from.
WctScales start_wct(nn::Vgg& model, double kappa, const std::optional<WctScales>& inherited,
                    const std::string& origin);

// After an optimiser step: every mapped layer's weight into
// [-bound(layer), bound(layer)] on the model's backend (no host copies).
void apply_wct_clamp(nn::Vgg& model, const WctScales& wct);

void write_wct_metadata(const WctScales& wct, SafetensorsFile& file);
// The WCT metadata of `file` (read from `path`), or nullopt when it has none.
// Malformed metadata (one key without the other, kappa outside (0, 1], a
// scale that is not a positive number) is an Error naming the file and key.
std::optional<WctScales> read_wct_metadata(const SafetensorsFile& file, const std::string& path);
// Error naming wct.file and the key unless `wct` has a scale for each of
// `layers` and for nothing else.
void check_wct_layers(const WctScales& wct, const std::vector<std::string>& layers);

// Where a layer's mapping scale came from, as the evaluate report says it.
inline constexpr const char* kScaleFromConfig = "config";   // the crossbar configuration's `scale`
inline constexpr const char* kScaleFromWct = "wct";         // s_ref of the model's WCT metadata
inline constexpr const char* kScaleFromMaxAbs = "max_abs";  // max |W| of the layer
inline constexpr const char* kScaleFromPercentile = "percentile";  // scale_mode percentile
inline constexpr const char* kScaleFromTileMax = "tile_max";       // scale_mode tile-max (s: max |W|, the reference)
inline constexpr const char* kScaleFromColumnMax = "column_max";   // scale_mode column-max (s: max |W|, the reference)

// Sets every layer's mapping scale. scale_mode layer-max: the configuration's
// `scale` when > 0, else s_ref of `wct` when given, else max |W|; any other
// mode: mapping_scale (engine/crossbar/scheduler.h), `wct` unused. Returns
// each layer's source (kScaleFrom*) by name.
std::map<std::string, std::string> assign_mapping_scales(std::vector<MappedLayer>& layers,
                                                         const CrossbarConfig& config,
                                                         const std::optional<WctScales>& wct);

}  // namespace sxb
