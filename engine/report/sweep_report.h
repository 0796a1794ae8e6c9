// Pictures of merged sweep results (engine/studies/sweep_results.h): the
// `sweep merge --svg` line plot and the `sweep merge --report` HTML page.
// Points that share a series and an x value are averaged; the spread over
// them (seeds, other grid keys) is drawn as a band of +- one sample standard
// deviation.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sxb {

// Line plot of `metric` against the numeric varied key `x`, one line per value
// of the varied key `series` (empty: one line); points that differ in other
// keys are averaged (the title says over which keys). Errors name bad keys.
std::string sweep_svg(const std::vector<nlohmann::json>& records, const std::string& x, const std::string& metric,
                      const std::string& series);

// The merged table, then `metric` against every numeric grid key (except
// `series` and seed keys) and against CCR, one line per value of `series`.
std::string sweep_html_report(const std::vector<nlohmann::json>& records, const std::string& metric,
                              const std::string& series, const std::string& command_line);

}  // namespace sxb
