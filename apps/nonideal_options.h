// The flags of non-ideality-aware fine-tuning on `sparsexbar train --nonideal`
// (engine/training/nonideal_finetune.h): the crossbar as `evaluate` takes it
// (--crossbar, --tile, --set, --layout, --backend) and the solve schedule.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "apps/crossbar_options.h"
#include "apps/model_options.h"
#include "engine/training/nonideal_finetune.h"

namespace sxb::app {

struct NonidealFlags {
  bool enabled = false, resample = false, mask_zeros = false;
  CrossbarFlags crossbar;
  std::string layout, backend;
  int resolve_every = NonidealSettings{}.resolve_every;
  std::vector<CLI::Option*> options;  // every flag but --nonideal
};

void add_nonideal_options(CLI::App* cmd, NonidealFlags& f);

// The settings of --nonideal, or nullopt without it (then any other of these
// flags is an Error).
std::optional<NonidealSettings> nonideal_settings(const NonidealFlags& f);

}  // namespace sxb::app
