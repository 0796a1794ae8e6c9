// A small but complete crossbar evaluation for the report tests: an
// untrained narrow VGG11 on the synthetic set, 16 x 16 tiles, two read-out
// calibrations, NF by source, a column rearrangement and tile heat maps.
#pragma once

#include "engine/evaluation/crossbar_eval.h"

namespace sxb::test {

inline CrossbarEvalResult small_evaluation(std::size_t max_cells = 65536, const std::string& layer = "") {
  auto backend = nn::make_cpu_backend();
  nn::VggConfig vc;
  vc.width = 0.0625;
  nn::Vgg model(vc, *backend);
  model.init(5);
  const Dataset test_set = load_dataset("synthetic:60", Split::Test);
  CrossbarEvalOptions o;
  o.backend = Backend::Cpu;
  o.crossbar.tile_rows = o.crossbar.tile_cols = 16;
  o.crossbar.res.r_wire_row = o.crossbar.res.r_wire_col = 5.0;
  o.evaluation.calibrations = {Calibration::None, Calibration::Column};
  o.evaluation.nf_by_source = true;
  o.rearrange.policy = RearrangePolicy::Balance;
  o.heatmaps = HeatmapRequest{layer, max_cells};
  return evaluate_on_crossbars(model, test_set, Normalization{}, o);
}

}  // namespace sxb::test
