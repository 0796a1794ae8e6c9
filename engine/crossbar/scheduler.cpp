#include "engine/crossbar/scheduler.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

#include "engine/crossbar/tile_solver.h"
#include "engine/io/stopwatch.h"
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

struct Job {
  std::size_t layer, tile;
  int slice = 0;
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

std::vector<Calibration> requested_calibrations(const SchedulerOptions& options, const CrossbarConfig& config) {
  return options.calibrations.empty() ? std::vector<Calibration>{config.calibration}
                                      : unique_calibrations(options.calibrations);
}

std::vector<Calibration> LayerEffective::calibrations() const {
  std::vector<Calibration> out = {calibration};
  for (const auto& v : other_variants) out.push_back(v.first);
  return out;
}

const std::vector<float>& LayerEffective::weights(Calibration c) const {
  if (c == calibration) return w_eff;
  for (const auto& v : other_variants)
    if (v.first == c) return v.second;
  throw Error(fmt::format("layer '{}': W_eff with calibration '{}' was not assembled", layer, to_string(c)));
}

std::vector<LayerEffective> select_calibration(const std::vector<LayerEffective>& layers, Calibration c) {
  std::vector<LayerEffective> out;
  out.reserve(layers.size());
  for (const LayerEffective& e : layers) {
    LayerEffective s = e;
    s.other_variants.clear();
    if (c != e.calibration) s.w_eff = e.weights(c);
    const std::vector<Calibration> all = e.calibrations();
    const std::size_t v = static_cast<std::size_t>(std::find(all.begin(), all.end(), c) - all.begin());
    for (PairEffective& p : s.pairs) p.weights = {std::move(p.weights.at(v))};
    s.calibration = c;
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// Per-layer sums in double: the uncalibrated W_eff (for none and layer) and the column-calibrated one.
struct LayerSums {
  std::vector<double> plain, column;
  NfBySource nf;
  std::vector<std::vector<float>> pair_plain, pair_column;  // with pair weights, per pair
};

// A pair's effective weights (used columns x used rows), each array's column gain applied when given.
std::vector<float> pair_matrix(const TilePlacement& p, int tile_rows, const double* t_pos, const double* t_neg,
                               const std::vector<double>& factors, const std::vector<double>* gain_pos,
                               const std::vector<double>* gain_neg) {
  const std::size_t rows = p.rows.size();
  std::vector<float> w(p.cols.size() * rows);
  for (std::size_t j = 0; j < p.cols.size(); ++j) {
    const double* tp = t_pos + j * tile_rows;
    const double* tn = t_neg + j * tile_rows;
    const double gp = gain_pos ? (*gain_pos)[j] : 1.0, gn = gain_neg ? (*gain_neg)[j] : 1.0;
    for (std::size_t i = 0; i < rows; ++i) w[j * rows + i] = static_cast<float>((gp * tp[i] - gn * tn[i]) * factors[j]);
  }
  return w;
}

// Transfer matrices of the batch; with `ideal`, G_eff = g (T[j][i] = g[i][j]) without a solve.
std::vector<double> solve(const TileBatch& batch, int R, int C, bool ideal, Backend backend) {
  if (!ideal) return transfer_matrices(batch, backend);
  const std::size_t cells = static_cast<std::size_t>(R) * C;
  std::vector<double> transfer(batch.conductance.size());
  for (std::size_t k = 0; k < batch.size(); ++k)
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < C; ++j)
        transfer[k * cells + static_cast<std::size_t>(j) * R + i] = batch.conductance[k * cells + i * C + j];
  return transfer;
}

// NF of the batch's tiles solved with only r_source, only r_sink and only the wires.
void add_nf_by_source(TileBatch& batch, const std::vector<Job>& jobs, std::size_t begin, const NetworkLayout& layout,
                      const CrossbarConfig& config, Backend backend, std::vector<LayerSums>& sums) {
  const int R = layout.tile_rows, C = layout.tile_cols;
  const std::size_t cells = static_cast<std::size_t>(R) * C, n = batch.size() / 2;
  const TileResistances& r = config.res;
  const std::pair<TileResistances, NfStats NfBySource::*> sources[] = {
      {{r.r_source, 0.0, 0.0, 0.0}, &NfBySource::source},
      {{0.0, r.r_sink, 0.0, 0.0}, &NfBySource::sink},
      {{0.0, 0.0, r.r_wire_row, r.r_wire_col}, &NfBySource::wires}};
  for (const auto& [res, member] : sources) {
    const bool none = res.r_source == 0.0 && res.r_sink == 0.0 && res.r_wire_row == 0.0 && res.r_wire_col == 0.0;
    std::vector<double> transfer;
    if (!none) {
      batch.resistances = {res};
      transfer = transfer_matrices(batch, backend);
    }
    for (std::size_t q = 0; q < n; ++q) {
      const Job& job = jobs[begin + q];
      const TilePlacement& p = layout.layers[job.layer].tiles[job.tile];
      NfStats& stats = sums[job.layer].nf.*member;
      if (none) {  // G_eff = g: NF 0
        accumulate_zero_nf(2 * static_cast<long long>(p.cols.size()), stats);
        continue;
      }
      const double* g = batch.conductance.data() + 2 * q * cells;
      const double* t = transfer.data() + 2 * q * cells;
      accumulate_nf(p, R, C, g, g + cells, t, t + cells, stats);
    }
  }
  batch.resistances = {config.res};
}

// Casts the requested variants to fp32 (w_eff the first) and fills the NF by source.
void finish_layer(LayerEffective& e, LayerSums& s, const std::vector<Calibration>& wanted, bool nf_by_source) {
  const auto to_float = [](const std::vector<double>& w, double gain) {
    std::vector<float> f(w.size());
    if (gain == 1.0)
      std::transform(w.begin(), w.end(), f.begin(), [](double x) { return static_cast<float>(x); });
    else
      std::transform(w.begin(), w.end(), f.begin(), [gain](double x) { return static_cast<float>(gain * x); });
    return f;
  };
  for (std::size_t v = 0; v < wanted.size(); ++v) {
    const Calibration c = wanted[v];
    std::vector<float> w = c == Calibration::Column ? to_float(s.column, 1.0)
                           : c == Calibration::Layer ? to_float(s.plain, e.gains.mean())
                                                     : to_float(s.plain, 1.0);
    if (v == 0) {
      e.calibration = c;
      e.w_eff = std::move(w);
    } else {
      e.other_variants.emplace_back(c, std::move(w));
    }
  }
  if (nf_by_source) {
    s.nf.full = NfStats{e.stats.nf_sum, e.stats.nf_max, e.stats.nf_columns};
    e.nf_by_source = s.nf;
  }
  for (std::size_t q = 0; q < e.pairs.size(); ++q) {
    PairEffective& pair = e.pairs[q];
    for (const Calibration c : wanted) {
      if (c == Calibration::Column) {
        pair.weights.push_back(s.pair_column[q]);
        continue;
      }
      std::vector<float> w = s.pair_plain[q];
      if (c == Calibration::Layer) {
        const double gain = e.gains.mean();
        for (float& x : w) x = static_cast<float>(gain * x);
      }
      pair.weights.push_back(std::move(w));
    }
  }
}

// What every batch of one effective_weights call shares.
struct Setup {
  Setup(const NetworkLayout& l, const CrossbarConfig& c, const SchedulerOptions& o) : layout(l), config(c), options(o) {}
  const NetworkLayout& layout;
  const CrossbarConfig& config;
  const SchedulerOptions& options;
  int R = 0, C = 0;
  std::size_t cells = 0;  // R x C
  DeviceModel devices;
  int weight_bits = 0, cell_bits = 0;
  bool need_plain = false, need_column = false;
  double g_threshold = 0.0;  // a device above it counts as high

  // Weight bit slicing: B, b and each slice's digital weight 2^(k b) (2^b - 1) / (2^B - 1).
  double slice_weight(int k) const {
    return std::ldexp(static_cast<double>((1LL << cell_bits) - 1), k * cell_bits) /
           static_cast<double>((1LL << weight_bits) - 1);
  }
};

// The work: every tile pair to solve (each slice of each position of each
// layer, in order) and what each layer accumulates.
struct Plan {
  std::vector<const MappedLayer*> source;  // the model's layer of each layout layer
  std::vector<LayerEffective> out;
  std::vector<LayerSums> sums;
  std::vector<Job> jobs;
};

Plan plan_jobs(const std::vector<MappedLayer>& layers, const Setup& set) {
  const NetworkLayout& layout = set.layout;
  Plan plan;
  plan.source.resize(layout.layers.size());
  plan.out.resize(layout.layers.size());
  plan.sums.resize(layout.layers.size());
  for (std::size_t l = 0; l < layout.layers.size(); ++l) {
    const LayerLayout& ll = layout.layers[l];
    const auto it = std::find_if(layers.begin(), layers.end(), [&](const MappedLayer& m) { return m.layer == ll.layer; });
    SXB_REQUIRE(it != layers.end(), fmt::format("layout: layer '{}' is not a layer of the model", ll.layer));
    SXB_REQUIRE(it->inputs == ll.inputs && it->outputs == ll.outputs,
                fmt::format("layout: layer '{}' is {} x {} but the model's is {} x {}", ll.layer, ll.inputs,
                            ll.outputs, it->inputs, it->outputs));
    SXB_REQUIRE(it->scale > 0.0, fmt::format("layer '{}': mapping scale must be > 0", ll.layer));
    plan.source[l] = &*it;
    LayerEffective& e = plan.out[l];
    e.layer = ll.layer;
    e.inputs = ll.inputs;
    e.outputs = ll.outputs;
    e.positions = ll.tiles.size();
    e.slices = set.config.slices();
    e.scale = it->scale;
    const std::size_t size = static_cast<std::size_t>(ll.inputs) * ll.outputs;
    LayerSums& s = plan.sums[l];
    if (set.need_plain) s.plain.assign(size, 0.0);
    if (set.need_column) s.column.assign(size, 0.0);
    if (set.options.pair_weights) {
      e.pairs.resize(e.positions * e.slices);
      s.pair_plain.resize(e.pairs.size());
      if (set.need_column) s.pair_column.resize(e.pairs.size());
    }
    for (int k = 0; k < e.slices; ++k)
      for (std::size_t t = 0; t < ll.tiles.size(); ++t) plan.jobs.push_back({l, t, k});
  }
  return plan;
}

// Programs the n tile pairs of jobs[begin, begin + n) into `batch`; their
// column scales s_j go to `column_scales`. Returns the clipped weights per pair.
std::vector<long long> program_batch(const Plan& plan, std::size_t begin, std::size_t n, const Setup& set,
                                     TileBatch& batch, std::vector<std::vector<double>>& column_scales) {
  std::vector<long long> clipped(n, 0);
  const std::size_t cells = set.cells;
#pragma omp parallel for schedule(dynamic, 4)
  for (std::ptrdiff_t q = 0; q < static_cast<std::ptrdiff_t>(n); ++q) {
    const Job& job = plan.jobs[begin + q];
    const MappedLayer& m = *plan.source[job.layer];
    const TilePlacement& p = set.layout.layers[job.layer].tiles[job.tile];
    column_scales[q] = tile_column_scales(m.matrix, m.outputs, p, set.config.scale_mode, m.scale);
    double* g_pos = batch.conductance.data() + 2 * q * cells;
    double* g_neg = batch.conductance.data() + (2 * q + 1) * cells;
    clipped[q] = set.weight_bits > 0
                     ? program_tile_slice(m.matrix, m.outputs, m.layer, job.tile, plan.out[job.layer].positions, p,
                                          set.R, set.C, column_scales[q],
                                          WeightSlice{set.weight_bits, set.cell_bits, job.slice}, set.devices, g_pos,
                                          g_neg)
                     : program_tile(m.matrix, m.outputs, m.layer, job.tile, p, set.R, set.C, column_scales[q],
                                    set.devices, g_pos, g_neg);
  }
  return clipped;
}

// Adds the solved pairs of jobs[begin, begin + n) (conductances in `batch`,
// transfer matrices in `transfer`) to their layers' sums and statistics.
void assemble_batch(Plan& plan, std::size_t begin, std::size_t n, const Setup& set, const TileBatch& batch,
                    const std::vector<double>& transfer, std::vector<std::vector<double>>& column_scales,
                    const std::vector<long long>& clipped) {
  const std::size_t cells = set.cells;
  const int R = set.R, C = set.C;
  const DeviceModel& devices = set.devices;
  for (std::size_t q = 0; q < n; ++q) {
    const Job& job = plan.jobs[begin + q];
    const TilePlacement& p = set.layout.layers[job.layer].tiles[job.tile];
    LayerEffective& e = plan.out[job.layer];
    LayerSums& s = plan.sums[job.layer];
    const double* g = batch.conductance.data() + 2 * q * cells;
    const double* t = transfer.data() + 2 * q * cells;
    std::vector<double>& factors = column_scales[q];
    const bool first_pair = job.tile == 0 && job.slice == 0;
    for (std::size_t j = 0; j < factors.size(); ++j) {
      if (job.slice == 0) record_scale(e.column_scale, factors[j], job.tile == 0 && j == 0);
      factors[j] /= devices.g_max - devices.g_min;  // s_j / (G_max - G_min)
    }
    const std::size_t pair = job.slice * e.positions + job.tile;
    std::vector<double> pair_factors;  // without the slice's digital weight
    if (set.options.pair_weights) {
      pair_factors = factors;
      e.pairs[pair].scale.resize(factors.size());
      for (std::size_t j = 0; j < factors.size(); ++j)
        e.pairs[pair].scale[j] = static_cast<float>(factors[j] * (devices.g_max - devices.g_min));
      s.pair_plain[pair] = pair_matrix(p, R, t, t + cells, factors, nullptr, nullptr);
    }
    if (set.weight_bits > 0)
      for (double& f : factors) f *= set.slice_weight(job.slice);
    if (set.need_plain) add_effective_weights(p, R, t, t + cells, factors, e.outputs, s.plain.data());
    const int used_rows = static_cast<int>(p.rows.size()), used_cols = static_cast<int>(p.cols.size());
    const std::vector<double> gain_pos = column_gains(used_rows, used_cols, R, C, g, t);
    const std::vector<double> gain_neg = column_gains(used_rows, used_cols, R, C, g + cells, t + cells);
    e.gains.add(gain_pos);
    e.gains.add(gain_neg);
    if (set.need_column)
      add_column_calibrated_weights(p, R, t, t + cells, gain_pos, gain_neg, factors, e.outputs, s.column.data());
    if (set.options.pair_weights && set.need_column)
      s.pair_column[pair] = pair_matrix(p, R, t, t + cells, pair_factors, &gain_pos, &gain_neg);
    const long long low = e.stats.low_devices, all = e.stats.devices;
    accumulate_tile_stats(p, R, C, g, g + cells, t, t + cells, set.g_threshold, e.stats);
    record_high_share(e.tile_high_share, e.stats.low_devices - low, e.stats.devices - all, first_pair);
    e.clipped += clipped[q];
  }
}

}  // namespace

std::vector<LayerEffective> effective_weights(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                              const CrossbarConfig& config, const SchedulerOptions& options,
                                              ScheduleStats* stats) {
  config.check("crossbar configuration");
  const std::vector<Calibration> wanted = requested_calibrations(options, config);
  const auto wants = [&](Calibration c) { return std::find(wanted.begin(), wanted.end(), c) != wanted.end(); };
  const bool nf_by_source = options.nf_by_source && !options.ideal;
  Setup set(layout, config, options);
  set.R = layout.tile_rows;
  set.C = layout.tile_cols;
  set.cells = static_cast<std::size_t>(set.R) * set.C;
  set.need_plain = wants(Calibration::None) || wants(Calibration::Layer);
  set.need_column = wants(Calibration::Column);
  set.weight_bits = config.weight_bits;
  set.cell_bits = config.bits_per_cell();
  set.devices = config.devices();
  if (options.ideal) set.devices = DeviceModel{set.devices.g_min, set.devices.g_max};
  set.g_threshold = 0.5 * (set.devices.g_min + set.devices.g_max);
  Plan plan = plan_jobs(layers, set);
  const std::vector<Job>& jobs = plan.jobs;

  const std::size_t job_bytes = 2 * 2 * set.cells * sizeof(double);  // g and T of both arrays
  std::size_t budget = options.max_batch_bytes;
  if (budget == 0) budget = std::min<std::size_t>(available_memory_bytes() / 4, std::size_t{4} << 30);
  const std::size_t per_batch = std::max<std::size_t>(1, budget / job_bytes);
  ScheduleStats st;
  st.tiles = 2 * jobs.size();

  for (std::size_t begin = 0; begin < jobs.size(); begin += per_batch) {
    const std::size_t end = std::min(jobs.size(), begin + per_batch), n = end - begin;
    ++st.batches;
    auto t0 = std::chrono::steady_clock::now();
    TileBatch batch = pair_batch(n, set.R, set.C, config);
    std::vector<std::vector<double>> column_scales(n);  // s_j of each used tile column
    const std::vector<long long> clipped = program_batch(plan, begin, n, set, batch, column_scales);
    st.program_seconds += seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    std::vector<double> transfer = solve(batch, set.R, set.C, options.ideal, options.backend);
    st.solve_seconds += seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    assemble_batch(plan, begin, n, set, batch, transfer, column_scales, clipped);
    st.assemble_seconds += seconds_since(t0);
    if (nf_by_source) {
      transfer = {};
      t0 = std::chrono::steady_clock::now();
      add_nf_by_source(batch, jobs, begin, layout, config, options.backend, plan.sums);
      st.nf_source_seconds += seconds_since(t0);
    }
    if (options.progress) options.progress(end, jobs.size());
  }
  for (std::size_t l = 0; l < plan.out.size(); ++l) {
    LayerEffective& e = plan.out[l];
    double columns = 0.0;
    for (const TilePlacement& p : layout.layers[l].tiles) columns += static_cast<double>(p.cols.size());
    const double tiles = static_cast<double>(e.positions * e.slices);
    e.tile_high_share.mean = tiles > 0 ? e.tile_high_share.mean / tiles : 0.0;  // sums until here
    e.column_scale.mean = columns > 0 ? e.column_scale.mean / columns : 0.0;
    finish_layer(e, plan.sums[l], wanted, nf_by_source);
  }
  if (stats) *stats = st;
  return std::move(plan.out);
}

}  // namespace sxb
