// --report FILE, --report-layer NAME and --report-cells N of the commands that evaluate on
// crossbars (evaluate, demo): the HTML report (engine/report/html_report.h).
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>

namespace sxb::app {

// --report FILE, --report-layer NAME, --report-cells N.
void add_report_options(CLI::App* cmd, std::string& report, std::string& report_layer, std::size_t& report_cells);

}  // namespace sxb::app
