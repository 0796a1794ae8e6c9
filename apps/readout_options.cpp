#include "apps/readout_options.h"

#include <fmt/format.h>

#include "kernels/common/error.h"

namespace sxb::app {

void add_readout_options(CLI::App* cmd, std::string& calibrations, std::size_t& bn_recalibrate, bool& nf_by_source) {
  cmd->add_option("--calibration", calibrations,
                  "Read-out calibrations to report from the same solved tiles, comma-separated: none, column, layer "
                  "(default: the configuration's 'calibration')");
  cmd->add_option("--bn-recalibrate", bn_recalibrate,
                  "Also report every calibration after batch-norm re-estimation over the first N training images");
  cmd->add_flag("--nf-by-source", nf_by_source,
                "Per-layer NF with only r_source, only r_sink and only the wires (one extra solve each)");
}

EvaluationSettings readout_settings(const std::string& calibrations, std::size_t bn_recalibrate, bool nf_by_source) {
  EvaluationSettings s;
  if (!calibrations.empty()) s.calibrations = parse_calibration_list(calibrations, "--calibration");
  s.bn_recalibrate = bn_recalibrate;
  s.nf_by_source = nf_by_source;
  s.check("evaluation");  // errors name the keys, written as these flags (apps/flag_names.cpp)
  return s;
}

}  // namespace sxb::app
