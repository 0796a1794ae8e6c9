// The built-in synthetic data set: 32x32 RGB images in 10 classes of shapes,
// strokes and textures with random colours, position, scale, rotation and
// pixel noise, generated from a seed (identical on every platform). Colour and
// position carry no class information, so a linear model does poorly while a
// small CNN learns it quickly.
#pragma once

#include <cstdint>

#include "engine/data/dataset.h"

namespace sxb {

inline constexpr int kSyntheticTrainSize = 10000;
inline constexpr int kSyntheticTestSize = 2000;

// Classes: disc, square, triangle, cross, ring, stripes, checkerboard, dots,
// stroke, frame. Image k depends only on (seed, k).
Dataset make_synthetic(int n, std::uint64_t seed);

}  // namespace sxb
