// Options of the commands that evaluate on crossbars (evaluate, demo): the
// read-out variants to report and the extra physics
// (engine/evaluation/evaluation_settings.h).
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>

#include "engine/evaluation/evaluation_settings.h"

namespace sxb::app {

// --calibration LIST, --bn-recalibrate N, --nf-by-source.
void add_readout_options(CLI::App* cmd, std::string& calibrations, std::size_t& bn_recalibrate, bool& nf_by_source);

// The settings those options give (errors name the options).
EvaluationSettings readout_settings(const std::string& calibrations, std::size_t bn_recalibrate, bool nf_by_source);

}  // namespace sxb::app
