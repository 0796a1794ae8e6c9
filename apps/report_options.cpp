#include "apps/report_options.h"

namespace sxb::app {

void add_report_options(CLI::App* cmd, std::string& report, std::string& report_layer, std::size_t& report_cells) {
  cmd->add_option("--report", report,
                  "Write a self-contained HTML report here (accuracies, per-layer charts, tile heat maps)");
  cmd->add_option("--report-layer", report_layer, "Heat maps of this layer only (default: every layer)")
      ->needs(cmd->get_option("--report"));
  cmd->add_option("--report-cells", report_cells, "Heat maps: most cells drawn per array and layer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->needs(cmd->get_option("--report"));
}

}  // namespace sxb::app
