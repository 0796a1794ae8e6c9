#include "engine/crossbar/scheduler.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "engine/crossbar/tile_solver.h"
#include "kernels/common/error.h"

namespace sxb {

double mapping_scale(const std::vector<float>& matrix, const CrossbarConfig& config) {
  if (config.scale > 0.0) return config.scale;
  if (config.scale_mode == ScaleMode::Percentile) return percentile_abs(matrix, config.scale_percentile);
  const double m = max_abs(matrix);
  return m > 0.0 ? m : 1.0;
}

namespace {

std::size_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::size_t kib = 0;
  while (in >> key >> kib) {
    if (key == "MemAvailable:") return kib * 1024;
    in.ignore(256, '\n');
  }
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page) : (1ULL << 30);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Job {
  std::size_t layer, tile;
};

// Min, max and (until the end of the assembly) sum of the tiles' high-g shares.
void record_high_share(MinMeanMax& share, long long low, long long devices, bool first) {
  const double high = devices ? static_cast<double>(devices - low) / static_cast<double>(devices) : 0.0;
  share.min = first ? high : std::min(share.min, high);
  share.max = first ? high : std::max(share.max, high);
  share.mean = (first ? 0.0 : share.mean) + high;
}

void record_scale(MinMeanMax& scale, double s, bool first) {
  scale.min = first ? s : std::min(scale.min, s);
  scale.max = first ? s : std::max(scale.max, s);
  scale.mean = (first ? 0.0 : scale.mean) + s;
}

}  // namespace

TileBatch pair_batch(std::size_t pairs, int R, int C, const CrossbarConfig& config) {
  const std::size_t cells = static_cast<std::size_t>(R) * C;
  TileBatch batch;
  batch.rows.assign(2 * pairs, R);
  batch.cols.assign(2 * pairs, C);
  batch.offset.resize(2 * pairs);
  for (std::size_t k = 0; k < 2 * pairs; ++k) batch.offset[k] = k * cells;
  batch.conductance.resize(2 * pairs * cells);
  batch.resistances = {config.res};
  return batch;
}

std::vector<LayerEffective> effective_weights(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                              const CrossbarConfig& config, const SchedulerOptions& options,
                                              ScheduleStats* stats) {
  config.check("crossbar configuration");
  const int R = layout.tile_rows, C = layout.tile_cols;
  std::vector<const MappedLayer*> source(layout.layers.size());
  std::vector<LayerEffective> out(layout.layers.size());
  std::vector<Job> jobs;
  for (std::size_t l = 0; l < layout.layers.size(); ++l) {
    const LayerLayout& ll = layout.layers[l];
    const auto it = std::find_if(layers.begin(), layers.end(), [&](const MappedLayer& m) { return m.layer == ll.layer; });
    SXB_REQUIRE(it != layers.end(), fmt::format("layout: layer '{}' is not a layer of the model", ll.layer));
    SXB_REQUIRE(it->inputs == ll.inputs && it->outputs == ll.outputs,
                fmt::format("layout: layer '{}' is {} x {} but the model's is {} x {}", ll.layer, ll.inputs,
                            ll.outputs, it->inputs, it->outputs));
    SXB_REQUIRE(it->scale > 0.0, fmt::format("layer '{}': mapping scale must be > 0", ll.layer));
    source[l] = &*it;
    LayerEffective& e = out[l];
    e.layer = ll.layer;
    e.inputs = ll.inputs;
    e.outputs = ll.outputs;
    e.positions = ll.tiles.size();
    e.scale = it->scale;
    e.w_eff.assign(static_cast<std::size_t>(ll.inputs) * ll.outputs, 0.0f);
    for (std::size_t t = 0; t < ll.tiles.size(); ++t) jobs.push_back({l, t});
  }

  const std::size_t cells = static_cast<std::size_t>(R) * C;
  const std::size_t job_bytes = 2 * 2 * cells * sizeof(double);  // g and T of both arrays
  std::size_t budget = options.max_batch_bytes;
  if (budget == 0) budget = std::min<std::size_t>(available_memory_bytes() / 4, std::size_t{4} << 30);
  const std::size_t per_batch = std::max<std::size_t>(1, budget / job_bytes);

  DeviceModel devices = config.devices();
  if (options.ideal) devices = DeviceModel{devices.g_min, devices.g_max};
  const double g_threshold = 0.5 * (devices.g_min + devices.g_max);
  std::vector<std::vector<double>> w_eff(out.size());
  for (std::size_t l = 0; l < out.size(); ++l) w_eff[l].assign(out[l].w_eff.size(), 0.0);
  ScheduleStats st;
  st.tiles = 2 * jobs.size();

  for (std::size_t begin = 0; begin < jobs.size(); begin += per_batch) {
    const std::size_t end = std::min(jobs.size(), begin + per_batch), n = end - begin;
    ++st.batches;
    auto t0 = std::chrono::steady_clock::now();
    TileBatch batch = pair_batch(n, R, C, config);
    std::vector<long long> clipped(n, 0);
    std::vector<std::vector<double>> column_scales(n);  // s_j of each used tile column
#pragma omp parallel for schedule(dynamic, 4)
    for (std::ptrdiff_t q = 0; q < static_cast<std::ptrdiff_t>(n); ++q) {
      const Job& job = jobs[begin + q];
      const MappedLayer& m = *source[job.layer];
      const TilePlacement& p = layout.layers[job.layer].tiles[job.tile];
      column_scales[q] = tile_column_scales(m.matrix, m.outputs, p, config.scale_mode, m.scale);
      clipped[q] = program_tile(m.matrix, m.outputs, m.layer, job.tile, p, R, C, column_scales[q], devices,
                                batch.conductance.data() + 2 * q * cells,
                                batch.conductance.data() + (2 * q + 1) * cells);
    }
    st.program_seconds += seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    std::vector<double> transfer;
    if (options.ideal) {  // G_eff = g: T[j][i] = g[i][j]
      transfer.resize(batch.conductance.size());
      for (std::size_t k = 0; k < 2 * n; ++k)
        for (int i = 0; i < R; ++i)
          for (int j = 0; j < C; ++j)
            transfer[k * cells + static_cast<std::size_t>(j) * R + i] = batch.conductance[k * cells + i * C + j];
    } else {
      transfer = transfer_matrices(batch, options.backend);
    }
    st.solve_seconds += seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    for (std::size_t q = 0; q < n; ++q) {
      const Job& job = jobs[begin + q];
      const TilePlacement& p = layout.layers[job.layer].tiles[job.tile];
      LayerEffective& e = out[job.layer];
      const double* g = batch.conductance.data() + 2 * q * cells;
      const double* t = transfer.data() + 2 * q * cells;
      std::vector<double>& factors = column_scales[q];
      for (std::size_t j = 0; j < factors.size(); ++j) {
        record_scale(e.column_scale, factors[j], job.tile == 0 && j == 0);
        factors[j] /= devices.g_max - devices.g_min;  // s_j / (G_max - G_min)
      }
      add_effective_weights(p, R, t, t + cells, factors, e.outputs, w_eff[job.layer].data());
      const long long low = e.stats.low_devices, all = e.stats.devices;
      accumulate_tile_stats(p, R, C, g, g + cells, t, t + cells, g_threshold, e.stats);
      record_high_share(e.tile_high_share, e.stats.low_devices - low, e.stats.devices - all, job.tile == 0);
      e.clipped += clipped[q];
    }
    st.assemble_seconds += seconds_since(t0);
    if (options.progress) options.progress(end, jobs.size());
  }
  for (std::size_t l = 0; l < out.size(); ++l) {
    LayerEffective& e = out[l];
    double columns = 0.0;
    for (const TilePlacement& p : layout.layers[l].tiles) columns += static_cast<double>(p.cols.size());
    const double tiles = static_cast<double>(e.positions);
    e.tile_high_share.mean = tiles > 0 ? e.tile_high_share.mean / tiles : 0.0;  // sums until here
    e.column_scale.mean = columns > 0 ? e.column_scale.mean / columns : 0.0;
    std::transform(w_eff[l].begin(), w_eff[l].end(), e.w_eff.begin(), [](double w) { return static_cast<float>(w); });
  }
  if (stats) *stats = st;
  return out;
}

nlohmann::json scale_and_share_json(const LayerEffective& e) {
  const auto range = [](const MinMeanMax& x) {
    return nlohmann::json{{"min", x.min}, {"mean", x.mean}, {"max", x.max}};
  };
  return {{"high_conductance_share",
           e.stats.devices ? static_cast<double>(e.stats.devices - e.stats.low_devices) / e.stats.devices : 0.0},
          {"tile_high_share", range(e.tile_high_share)},
          {"column_scale", range(e.column_scale)}};
}

}  // namespace sxb
