#include "apps/readout_options.h"

#include <fmt/format.h>

#include "kernels/common/error.h"

namespace sxb::app {

void add_readout_options(CLI::App* cmd, std::string& calibrations, std::size_t& bn_recalibrate, bool& nf_by_source) {
  cmd->add_option("--calibration", calibrations,
                  "Read-out calibrations to report from the same solved tiles, comma-separated: none, column, layer "
                  "(default: the configuration's 'calibration')");
  cmd->add_option("--bn-recalibrate", bn_recalibrate,
                  "Also report every calibration after batch-norm re-estimation over the first N training images")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 31));
  cmd->add_flag("--nf-by-source", nf_by_source,
                "Per-layer NF with only r_source, only r_sink and only the wires (one extra solve each)");
}

EvaluationSettings readout_settings(const std::string& calibrations, std::size_t bn_recalibrate, bool nf_by_source) {
  EvaluationSettings s;
  if (!calibrations.empty()) s.calibrations = parse_calibration_list(calibrations, "--calibration");
  for (std::size_t i = 0; i < s.calibrations.size(); ++i)
    for (std::size_t k = 0; k < i; ++k)
      if (s.calibrations[k] == s.calibrations[i])
        throw Error(fmt::format("--calibration: \"{}\" is listed twice", to_string(s.calibrations[i])));
  s.bn_recalibrate = bn_recalibrate;
  s.nf_by_source = nf_by_source;
  return s;
}

}  // namespace sxb::app
