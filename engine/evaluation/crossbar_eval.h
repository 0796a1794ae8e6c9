// Accuracy of a network on non-ideal crossbars: the software
// model, the ideal crossbar (mapping only) and the non-ideal crossbar (every
// tile solved; W_eff through the model's weight hook), with per-layer NF and
// low-conductance statistics, crossbar counts and warnings when the run looks
// wrong, as a typed report (engine/evaluation/crossbar_report.h).
//
// Stages, in order: map (layer matrices, mapping scales, layout), rearrange
// (optional), evaluate the software model and the ideal crossbar, solve or
// load W_eff (cache), evaluate the non-ideal crossbar, the layout before
// rearrangement (for the comparison), self-checks, report.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/evaluation/evaluate.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/rearrangement/rearrange.h"
#include "engine/crossbar/scheduler.h"
#include "engine/evaluation/sparse_forward.h"
#include "engine/crossbar/wct.h"
#include "engine/evaluation/crossbar_report.h"
#include "engine/evaluation/effective_model.h"
#include "engine/evaluation/evaluation_settings.h"

namespace sxb {

struct CrossbarEvalOptions {
  CrossbarConfig crossbar;
  Backend backend = Backend::Auto;      // tile solver
  std::optional<NetworkLayout> layout;  // packed layout of a pruned model; default dense
  std::string cache_dir;                // W_eff cache; empty: none
  long long reference_crossbars = 0;    // crossbars of the unpruned model, for CCR
  std::string model_source, data_source;  // for the report
  std::function<void(const std::string&)> log;  // progress lines
  // Per-layer mapping scales s = s_ref of weight-constrained training (the
  // model file's WCT metadata, engine/crossbar/wct.h); crossbar.scale > 0 overrides them.
  std::optional<WctScales> wct;
  SparsePath sparse = SparsePath::Auto;  // dense or CSR products for W_eff (engine/evaluation/sparse_forward.h)
  // Column rearrangement (engine/rearrangement/rearrange.h); with a policy other than none
  // the layout as given is solved and evaluated too, for the before/after report.
  RearrangeOptions rearrange;
  // Read-out variants and extra physics (engine/evaluation/evaluation_settings.h).
  EvaluationSettings evaluation;
  // The training split of the data set, for batch-norm re-estimation
  // (evaluation.bn_recalibrate > 0).
  const Dataset* bn_train = nullptr;
  // Tile heat maps for the HTML report (engine/evaluation/tile_heatmap.h); none when unset.
  std::optional<HeatmapRequest> heatmaps;
};

struct CrossbarEvalResult {
  EvalResult software, ideal, nonideal;  // with logits and predictions; nonideal: the first calibration
  std::vector<std::vector<int>> variant_predicted;  // the predictions of each report.variants entry
  std::vector<LayerEffective> layers;   // non-ideal, w_eff cleared
  CrossbarReport report;
};

// `software`: a result of evaluate(model, data, norm) already at hand (the
// demo evaluates several tile sizes), else it is computed. The model's weight
// hook is cleared on return.
CrossbarEvalResult evaluate_on_crossbars(nn::Vgg& model, const Dataset& data, const Normalization& norm,
                                         const CrossbarEvalOptions& options, const EvalResult* software = nullptr);

}  // namespace sxb
