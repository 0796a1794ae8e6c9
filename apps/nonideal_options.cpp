#include "apps/nonideal_options.h"

#include "engine/crossbar/layout_file.h"

namespace sxb::app {

void add_nonideal_options(CLI::App* cmd, NonidealFlags& f) {
  cmd->add_flag("--nonideal", f.enabled,
                "Non-ideality-aware fine-tuning: every conv/linear layer computes with its effective weight on the "
                "crossbar (straight-through gradient to W); usually with --init");
  f.options = add_crossbar_options(cmd, f.crossbar, true, "--nonideal: ");
  f.options.insert(f.options.end(), {
      cmd->add_option("--layout", f.layout,
                      "--nonideal: packed tile layout of a pruned model (its masks are held; fixes the tile size)"),
      cmd->add_flag("--mask-zeros", f.mask_zeros,
                    "--nonideal: hold the zero weights of --init at zero (a C/F model on dense tiles)"),
      cmd->add_option("--resolve-every", f.resolve_every, "--nonideal: steps between solves of W_eff")
          ->capture_default_str(),
      cmd->add_flag("--variation-resample", f.resample,
                    "--nonideal: draw new devices every epoch instead of the configuration's seed"),
      add_backend_option(cmd, f.backend, "--nonideal: ")});
}

std::optional<NonidealSettings> nonideal_settings(const NonidealFlags& f) {
  if (!f.enabled) {
    for (const CLI::Option* o : f.options)
      SXB_REQUIRE(o->count() == 0, o->get_name() + " needs --nonideal");
    return std::nullopt;
  }
  NonidealSettings s;
  if (!f.layout.empty()) s.layout = read_layout_file(f.layout);
  s.crossbar = crossbar_from_options(f.crossbar, s.layout ? &*s.layout : nullptr);
  s.resolve_every = f.resolve_every;
  s.variation_resample = f.resample;
  s.mask_zeros = f.mask_zeros;
  s.solver = parse_backend(f.backend, "--backend");
  s.check("nonideal");
  return s;
}

}  // namespace sxb::app
