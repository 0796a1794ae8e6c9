// Running a sweep (engine/studies/sweep.h) or one shard of it: for every point the
// shard owns and no results file holds yet, the model (given, or trained),
// the pruned model (when the point prunes) and the crossbar evaluation, one
// record appended per finished point (engine/studies/sweep_results.h).
//
// Shared work is reused across points, shards and sweeps: trained and pruned
// models live in <cache>/sweep-models/ under the hash of the settings that
// make them (a lock file per model makes a second shard wait instead of
// training the same model twice; an interrupted training resumes from its
// checkpoint), and W_eff is cached as by `evaluate` (engine/crossbar/weff_cache.h).
// A point that fails is logged to failures.<shard>.jsonl and the shard goes on;
// it runs again on the next start.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/crossbar/backend.h"
#include "engine/evaluation/sparse_forward.h"
#include "engine/studies/sweep.h"

namespace sxb {

struct SweepRunOptions {
  std::string out_dir;    // results.<shard>.jsonl, failures.<shard>.jsonl
  std::string cache_dir;  // sweep-models/ and the W_eff cache
  std::string data_root;  // relative data folders are taken from here (resolve_data_spec)
  bool weff_cache = true;
  Shard shard;
  std::string device = to_string(kDefaultNetworkDevice);  // network engine (training and evaluation): cpu, cuda or auto
  Backend backend = Backend::Auto;  // tile solver
  SparsePath sparse = SparsePath::Auto;
  std::size_t max_points = 0;  // stop after this many new points (0: no limit)
  std::function<bool()> stop_requested;        // polled between training steps and points
  std::function<void(const std::string&)> log;  // progress lines
};

struct SweepRunResult {
  std::size_t owned = 0;    // points of this shard
  std::size_t skipped = 0;  // already in a results file
  std::size_t done = 0, failed = 0;
  bool interrupted = false;
  std::string results_file;
};

SweepRunResult run_sweep(const Sweep& sweep, const SweepRunOptions& options);

}  // namespace sxb
