#include "apps/nonideal_options.h"

#include "engine/crossbar/layout_file.h"

namespace sxb::app {

const FlagNames kNonidealFlags = {{"nonideal.resolve_every", "--resolve-every"},
                                  {"nonideal.crossbar", "--crossbar"},
                                  {"nonideal.layout", "--layout"}};

void add_nonideal_options(CLI::App* cmd, NonidealFlags& f) {
  cmd->add_flag("--nonideal", f.enabled,
                "Non-ideality-aware fine-tuning: every conv/linear layer computes with its effective weight on the "
                "crossbar (straight-through gradient to W); usually with --init");
  f.options = {
      cmd->add_option("--crossbar", f.crossbar, "--nonideal: crossbar configuration (JSON; default: the 'default' preset)"),
      cmd->add_option("--tile", f.tile, "--nonideal: tile size N or RxC (overrides the configuration's)"),
      cmd->add_option("--set", f.settings, "--nonideal: override one configuration key: key=value (repeatable)"),
      cmd->add_option("--layout", f.layout,
                      "--nonideal: packed tile layout of a pruned model (its masks are held; fixes the tile size)"),
      cmd->add_flag("--mask-zeros", f.mask_zeros,
                    "--nonideal: hold the zero weights of --init at zero (a C/F model on dense tiles)"),
      cmd->add_option("--resolve-every", f.resolve_every, "--nonideal: steps between solves of W_eff")
          ->capture_default_str(),
      cmd->add_flag("--variation-resample", f.resample,
                    "--nonideal: draw new devices every epoch instead of the configuration's seed"),
      cmd->add_option("--backend", f.backend, "--nonideal: tile solver: auto, cpu, cuda or reference")
          ->capture_default_str()};
}

std::optional<NonidealSettings> nonideal_settings(const NonidealFlags& f) {
  if (!f.enabled) {
    for (const CLI::Option* o : f.options)
      SXB_REQUIRE(o->count() == 0, o->get_name() + " needs --nonideal");
    return std::nullopt;
  }
  NonidealSettings s;
  s.crossbar = f.crossbar.empty() ? crossbar_preset("default") : read_crossbar_config(f.crossbar);
  for (const std::string& kv : f.settings) apply_setting(s.crossbar, kv);
  if (!f.layout.empty()) {
    s.layout = read_layout_file(f.layout);
    if (f.tile.empty()) {  // a packed layout fixes the tile size
      s.crossbar.tile_rows = s.layout->tile_rows;
      s.crossbar.tile_cols = s.layout->tile_cols;
    }
  }
  if (!f.tile.empty()) parse_tile_size(f.tile, s.crossbar.tile_rows, s.crossbar.tile_cols, "--tile");
  s.crossbar.check(f.crossbar.empty() ? "crossbar configuration" : f.crossbar);
  s.resolve_every = f.resolve_every;
  s.variation_resample = f.resample;
  s.mask_zeros = f.mask_zeros;
  s.solver = parse_backend(f.backend, "--backend");
  s.check("nonideal");
  return s;
}

}  // namespace sxb::app
