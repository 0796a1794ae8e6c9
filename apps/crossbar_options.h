// The crossbar and its solvers as every command takes them from the command
// line: --crossbar, --tile, --set (the configuration, sized by a packed
// layout when no --tile is given), --backend (the tile solver) and --sparse
// (W_eff products). Defaults come from the settings types themselves.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/evaluation/sparse_forward.h"

namespace sxb::app {

struct CrossbarFlags {
  std::string file, tile;             // --crossbar, --tile
  std::vector<std::string> settings;  // --set key=value, in order
};

// Adds --crossbar, --set and, with `with_tile`, --tile; `prefix` starts each
// help text (e.g. "--nonideal: "). Returns the options added.
std::vector<CLI::Option*> add_crossbar_options(CLI::App* cmd, CrossbarFlags& f, bool with_tile,
                                               const std::string& prefix = "");

// The configuration: the file (or the 'default' preset), each --set in order,
// then --tile or, without it, the tile size of `layout`; checked. Errors name
// the file, the key or the option.
CrossbarConfig crossbar_from_options(const CrossbarFlags& f, const NetworkLayout* layout = nullptr);

// --backend: the tile solver; `backend` starts as Backend::Auto, the default of
// every settings struct that takes one.
CLI::Option* add_backend_option(CLI::App* cmd, std::string& backend, const std::string& prefix = "");
// --sparse: dense or CSR W_eff products; starts as SparsePath::Auto.
CLI::Option* add_sparse_option(CLI::App* cmd, std::string& sparse);

}  // namespace sxb::app
