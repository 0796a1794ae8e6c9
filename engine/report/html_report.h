// The HTML report of a run (`--report run.html` of evaluate, demo and sweep
// merge): one self-contained file, well-formed XHTML-compatible HTML with
// inline CSS and SVG, no script, readable offline (docs/report.md).
//
// Every number of the report that is also in the JSON report carries
// data-json="<JSON pointer>" into {"runs": [to_json(run), ...]} and
// data-scale (100 for percent), so a test can check the two agree.
#pragma once

#include <string>
#include <vector>

#include "engine/evaluation/crossbar_report.h"

namespace sxb {

struct HtmlReportInfo {
  std::string command;       // "evaluate", "demo"
  std::string command_line;  // as typed, for the record
  double seconds = 0.0;      // wall time of the whole command (0: not shown)
};

// One section per run (the demo's tile sizes): configuration, revision,
// devices and timings; accuracies and the accuracy-loss chart; per-layer NF,
// conductance shares and crossbars; the tile heat maps (before and after a
// rearrangement) when the runs computed them.
std::string crossbar_html_report(const std::vector<CrossbarReport>& runs, const HtmlReportInfo& info);

// A complete page around `body` (the shared head: title, CSS).
std::string html_page(const std::string& title, const std::string& body);

}  // namespace sxb
