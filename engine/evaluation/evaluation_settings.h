// What a crossbar evaluation reports beyond the configured read-out: the
// read-out variants computed from the one set of solved tiles and the extra
// physics. JSON keys (a sweep point's "evaluation" object, docs/cli.md):
//   "calibrations":   ["none", "column", "layer"]  every calibration to report, in
//                     order; empty: the crossbar configuration's `calibration`
//   "bn_recalibrate": N   each calibration again after batch-norm re-estimation
//                     over the first N training images (0: off)
//   "nf_by_source":   true  per-layer NF with only r_source, only r_sink, only the wires
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/calibration.h"

namespace sxb {

struct EvaluationSettings {
  std::vector<Calibration> calibrations;  // empty: the configuration's
  std::size_t bn_recalibrate = 0;         // images; 0: off
  bool nf_by_source = false;

  bool is_default() const { return calibrations.empty() && bn_recalibrate == 0 && !nf_by_source; }
  // Unknown keys and bad values are Errors naming `context` and the key.
  static EvaluationSettings from_json(const nlohmann::json& j, const std::string& context);
  nlohmann::json to_json() const;  // every key
  void check(const std::string& context) const;
};

// "none,column,layer" -> calibrations (Error naming `key`).
std::vector<Calibration> parse_calibration_list(const std::string& text, const std::string& key);

}  // namespace sxb
