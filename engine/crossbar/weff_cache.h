// On-disk cache of effective weights: a second evaluation of the
// same (weights, layout, crossbar configuration with its seed, code version)
// does no solving. One safetensors file per key: a tensor per layer and
// calibration variant (K x N W_eff; the first variant under the layer's name,
// the others under "<layer>#<calibration>") and the per-layer statistics in
// __metadata__. Files are written
// atomically; an unreadable or mismatching file is a miss, never an error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/scheduler.h"

namespace sxb {

// $SPARSEXBAR_CACHE, else $XDG_CACHE_HOME/sparsexbar, else $HOME/.cache/sparsexbar,
// else .sparsexbar-cache in the working directory.
std::string default_cache_dir();

// SHA-256 over the code version, the configuration, the layout, the layer
// matrices and scales, and what `options` asks for: the calibrations in order
// (requested_calibrations), NF by source and the ideal shortcut.
std::string weff_cache_key(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                           const CrossbarConfig& config, const SchedulerOptions& options = {});

std::string weff_cache_path(const std::string& dir, const std::string& key);

// The cached layers, or nothing when absent, unreadable or not matching
// `layout`, or (when `calibrations` is not empty) not holding exactly these
// calibrations in this order.
std::optional<std::vector<LayerEffective>> load_weff_cache(const std::string& path, const NetworkLayout& layout,
                                                           const std::vector<Calibration>& calibrations = {});
void store_weff_cache(const std::string& path, const std::vector<LayerEffective>& layers);

}  // namespace sxb
