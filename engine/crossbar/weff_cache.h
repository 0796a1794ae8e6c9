// On-disk cache of effective weights: a second evaluation of the same
// (weights, layout, crossbar configuration with its seed, request, solver,
// code version) does no solving. One safetensors file per entry: a tensor per
// layer and calibration variant (K x N W_eff; the first variant under the
// layer's name, the others under "<layer>#<calibration>"), and in
// __metadata__ the per-layer statistics ("layers"), the identity the entry was
// computed for ("identity", whose SHA-256 names the file) and the SHA-256 of
// the tensors and statistics ("sha256").
//
// Nothing read is trusted: an entry whose identity is not the one asked for
// (a file copied over another), whose checksum does not match (edited in
// place), which holds non-finite values or does not match the layout is one
// warning line naming the file, and the caller solves again and overwrites
// it. An absent entry is a silent miss. A cache that cannot be written is a
// warning and the run goes on without it. Files are written atomically.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/scheduler.h"

namespace sxb {

// $SPARSEXBAR_CACHE, else $XDG_CACHE_HOME/sparsexbar, else $HOME/.cache/sparsexbar,
// else .sparsexbar-cache in the working directory.
std::string default_cache_dir();

// What decides the W_eff of a solve: the format and code version, the
// configuration (less its preset name), what `options` asks for (the
// calibrations in order, NF by source, the ideal shortcut, the solver), the
// SHA-256 of the layout and of the layer matrices with their scales.
// `extra`, when not null, is stored as "extra" (e.g. a rearrangement).
nlohmann::json weff_cache_identity(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                   const CrossbarConfig& config, const SchedulerOptions& options = {},
                                   const nlohmann::json& extra = nullptr);

// SHA-256 of weff_cache_identity(...).dump(): the entry's name.
std::string weff_cache_key(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                           const CrossbarConfig& config, const SchedulerOptions& options = {});

std::string weff_cache_path(const std::string& dir, const std::string& key);

struct WeffCacheEntry {
  std::string path;          // <dir>/weff/<SHA-256 of identity>.safetensors
  nlohmann::json identity;   // weff_cache_identity(...)
};
WeffCacheEntry weff_cache_entry(const std::string& dir, nlohmann::json identity);

// One line, naming the file, for an entry that is not used or not written.
using CacheWarning = std::function<void(const std::string&)>;

// The cached layers, or nothing: silently when the file is absent, with a
// warning when it is unreadable, of another identity, fails its checksum,
// holds non-finite values, does not match `layout`, or (when `calibrations`
// is not empty) does not hold exactly these calibrations in this order.
std::optional<std::vector<LayerEffective>> load_weff_cache(const WeffCacheEntry& entry, const NetworkLayout& layout,
                                                           const std::vector<Calibration>& calibrations = {},
                                                           const CacheWarning& warn = {});
// Writes the entry; false (and a warning) when the folder cannot be created
// or the file cannot be written. Never throws for I/O.
bool store_weff_cache(const WeffCacheEntry& entry, const std::vector<LayerEffective>& layers,
                      const CacheWarning& warn = {});

}  // namespace sxb
