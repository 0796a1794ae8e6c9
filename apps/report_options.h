// --report FILE and --report-layer NAME of the commands that evaluate on
// crossbars (evaluate, demo): the HTML report (engine/report/html_report.h).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace sxb::app {

void add_report_options(CLI::App* cmd, std::string& report, std::string& report_layer);

}  // namespace sxb::app
