// Renderings of a crossbar evaluation for people: the per-run table, the
// summary of several runs (one line each, as the demo prints it) and the
// per-image CSV. The JSON form is to_json (engine/evaluation/crossbar_report.h).
#pragma once

#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/evaluation/crossbar_eval.h"
#include "engine/evaluation/crossbar_report.h"

namespace sxb {

// Model, circuit, per-layer NF and conductance statistics, mapping scales,
// accuracies, CCR, rearrangement, timing and warnings.
std::string crossbar_table(const CrossbarReport& r);

// One line per report: tile size, crossbars, NF, low-g share, accuracies, loss.
std::string crossbar_summary(const std::vector<CrossbarReport>& runs);

// CSV, one row per image: index,label,software,nonideal,logit_0..logit_{K-1} (non-ideal logits).
std::string crossbar_predictions_csv(const CrossbarEvalResult& r, const Dataset& d);

}  // namespace sxb
