// Random tile layers for the converter tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/converters/tile_forward.h"

namespace sxb {

// A layer of K x N on R x C tiles with random pair weights and column scales;
// `packed`: rows and columns shuffled before they are cut into tiles, so the
// tiles' rows are not runs (the gather path).
inline TileLayer random_layer(int K, int N, int R, int C, int slices, int weight_bits, bool packed, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0), s(0.5, 2.0);
  std::vector<int> rows(K), cols(N);
  std::iota(rows.begin(), rows.end(), 0);
  std::iota(cols.begin(), cols.end(), 0);
  if (packed) {
    std::shuffle(rows.begin(), rows.end(), rng);
    std::shuffle(cols.begin(), cols.end(), rng);
  }
  TileLayer t;
  t.layer = "layer";
  t.inputs = K;
  t.outputs = N;
  t.slices = slices;
  const int b = weight_bits / slices;
  for (int k = 0; k < slices; ++k)
    t.slice_weight.push_back(slices == 1 ? 1.0 : std::ldexp((1 << b) - 1.0, k * b) / ((1 << weight_bits) - 1.0));
  std::vector<TilePair> one;
  for (int r0 = 0; r0 < K; r0 += R)
    for (int c0 = 0; c0 < N; c0 += C) {
      TilePair p;
      p.rows.assign(rows.begin() + r0, rows.begin() + std::min(K, r0 + R));
      p.cols.assign(cols.begin() + c0, cols.begin() + std::min(N, c0 + C));
      bool run = true;
      for (std::size_t i = 1; i < p.rows.size(); ++i) run = run && p.rows[i] == p.rows[0] + static_cast<int>(i);
      p.first_row = run ? p.rows[0] : -1;
      one.push_back(p);
    }
  t.positions = one.size();
  for (int k = 0; k < slices; ++k)
    for (TilePair p : one) {
      p.scale.resize(p.cols.size());
      for (float& x : p.scale) x = static_cast<float>(s(rng));
      p.w.resize(p.rows.size() * p.cols.size());
      for (float& x : p.w) x = static_cast<float>(u(rng));
      t.pairs.push_back(p);
    }
  return t;
}

}  // namespace sxb
