#include "apps/crossbar_options.h"

namespace sxb::app {

std::vector<CLI::Option*> add_crossbar_options(CLI::App* cmd, CrossbarFlags& f, bool with_tile,
                                               const std::string& prefix) {
  std::vector<CLI::Option*> added = {
      cmd->add_option("--crossbar", f.file, prefix + "Crossbar configuration (JSON; default: the 'default' preset)")
          ->check(CLI::ExistingFile)};
  if (with_tile)
    added.push_back(cmd->add_option("--tile", f.tile, prefix + "Tile size N or RxC (overrides the configuration's)"));
  added.push_back(
      cmd->add_option("--set", f.settings, prefix + "Override one configuration key: key=value (repeatable)"));
  return added;
}

CrossbarConfig crossbar_from_options(const CrossbarFlags& f, const NetworkLayout* layout) {
  CrossbarConfig c = f.file.empty() ? crossbar_preset("default") : read_crossbar_config(f.file);
  for (const std::string& s : f.settings) apply_setting(c, s);
  if (!f.tile.empty()) {
    parse_tile_size(f.tile, c.tile_rows, c.tile_cols, "--tile");
  } else if (layout) {  // a packed layout fixes the tile size
    c.tile_rows = layout->tile_rows;
    c.tile_cols = layout->tile_cols;
  }
  c.check(f.file.empty() ? Message("crossbar configuration") : Message{Subject{f.file}});
  return c;
}

CLI::Option* add_backend_option(CLI::App* cmd, std::string& backend, const std::string& prefix) {
  backend = to_string(Backend::Auto);
  return cmd->add_option("--backend", backend, prefix + "Tile solver: auto, cpu, cuda or reference")
      ->capture_default_str();
}

CLI::Option* add_sparse_option(CLI::App* cmd, std::string& sparse) {
  sparse = to_string(SparsePath::Auto);
  return cmd->add_option("--sparse", sparse, "W_eff products: auto (CSR below the measured density crossover), dense or sparse")
      ->capture_default_str();
}

}  // namespace sxb::app
