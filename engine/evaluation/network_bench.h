// A whole network on crossbars, timed (`sparsexbar bench network`): every
// tile solved for W_eff through the scheduler, inference with W_eff, the
// tile-level forward through the converters when the configuration asks for
// it, and the arithmetic of the per-input-vector alternative (one circuit
// solve per tile per output pixel per image).
#pragma once

#include <string>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/scheduler.h"
#include "models/vgg.h"

namespace sxb {

struct NetworkBenchSettings {
  CrossbarConfig crossbar;           // tile size, converters (dac_bits, adc_bits)
  Backend backend = Backend::Auto;   // tile solver
  int images = 512;                  // synthetic images timed for inference
  int probe_tiles = 16;              // example tiles timed for one per-vector solve
};

struct NetworkBenchResult {
  Backend backend = Backend::Cpu;  // the tile solver, resolved
  ScheduleStats stats;             // of the timed solve
  long long crossbars = 0;         // both arrays of every tile position
  double solve_seconds = 0.0;      // every tile of the network
  double inference_seconds = 0.0;  // `images` images with W_eff
  double tile_level_seconds = 0.0; // the same images through the converters; 0: not asked for
  double per_vector_solve_seconds = 0.0;  // one tile, one input vector
  long long per_vector_solves_per_image = 0;
};

// `model` (its weights as they are) on dense tiles of `settings.crossbar`.
NetworkBenchResult bench_network(nn::Vgg& model, const NetworkBenchSettings& settings);

}  // namespace sxb
