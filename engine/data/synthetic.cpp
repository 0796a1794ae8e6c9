#include "engine/data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "kernels/common/counter_rng.h"

namespace sxb {
namespace {

const char* kClassNames[10] = {"disc", "square", "triangle", "cross", "ring",
                               "stripes", "checkerboard", "dots", "stroke", "frame"};

struct Draw {
  std::mt19937_64 engine;
  double uniform(double lo, double hi) { return lo + (hi - lo) * rng::unit_uniform(engine()); }
  double normal() {  // Box-Muller, platform-independent
    const double u1 = 1.0 - rng::unit_uniform(engine()), u2 = rng::unit_uniform(engine());
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
};

// Is the shape-space point (u, v) (unit scale, centred) inside the class shape?
// `p` is a per-image shape parameter in [0, 1).
bool inside(int cls, double u, double v, double p) {
  const double r = std::hypot(u, v);
  switch (cls) {
    case 0: return r < 1.0;
    case 1: return std::abs(u) < 0.85 && std::abs(v) < 0.85;
    case 2: return v > -0.7 && std::abs(u) < (1.0 - v) * 0.6;  // apex at v = 1
    case 3: return (std::abs(u) < 0.28 && std::abs(v) < 1.0) || (std::abs(v) < 0.28 && std::abs(u) < 1.0);
    case 4: return r < 1.0 && r > 0.55;
    case 5: return r < 1.1 && std::fmod(std::abs(u * (2.0 + 2.0 * p) + 10.0), 2.0) < 1.0;
    case 6: {
      const double f = 2.0 + 1.5 * p;
      return std::abs(u) < 1.0 && std::abs(v) < 1.0 &&
             ((static_cast<int>(std::floor(u * f + 10.0)) + static_cast<int>(std::floor(v * f + 10.0))) % 2 == 0);
    }
    case 7: {
      const double f = 2.5 + p;
      const double du = u * f - std::round(u * f), dv = v * f - std::round(v * f);
      return std::abs(u) < 1.1 && std::abs(v) < 1.1 && std::hypot(du, dv) < 0.3;
    }
    case 8: return std::abs(v) < 0.18 + 0.1 * p && std::abs(u) < 1.2;
    default: return std::max(std::abs(u), std::abs(v)) < 0.95 && std::max(std::abs(u), std::abs(v)) > 0.62;
  }
}

void render(int cls, Draw& d, std::uint8_t* out) {
  // Colours: foreground and background at least 90 apart (Euclidean, 0..255).
  double fg[3], bg[3];
  do {
    for (int c = 0; c < 3; ++c) {
      fg[c] = d.uniform(0, 255);
      bg[c] = d.uniform(0, 255);
    }
  } while (std::hypot(fg[0] - bg[0], fg[1] - bg[1], fg[2] - bg[2]) < 90.0);
  const double scale = d.uniform(6.0, 12.0);
  const double cx = d.uniform(10.0, 22.0), cy = d.uniform(10.0, 22.0);
  const double angle = d.uniform(0.0, 2.0 * std::numbers::pi);
  const double p = d.uniform(0.0, 1.0);
  const double noise = d.uniform(4.0, 16.0);
  const double gx = d.uniform(-1.5, 1.5), gy = d.uniform(-1.5, 1.5);  // background gradient per pixel
  const double ca = std::cos(angle), sa = std::sin(angle);
  for (int y = 0; y < kImageSize; ++y)
    for (int x = 0; x < kImageSize; ++x) {
      int hits = 0;  // 2x2 supersampling for anti-aliased edges
      for (int s = 0; s < 4; ++s) {
        const double px = x + 0.25 + 0.5 * (s & 1) - cx, py = y + 0.25 + 0.5 * (s >> 1) - cy;
        const double u = (ca * px + sa * py) / scale, v = (-sa * px + ca * py) / scale;
        hits += inside(cls, u, v, p);
      }
      const double a = hits / 4.0;
      for (int c = 0; c < 3; ++c) {
        const double back = bg[c] + gx * (x - 16) + gy * (y - 16);
        const double value = a * fg[c] + (1.0 - a) * back + noise * d.normal();
        out[c * kImageSize * kImageSize + y * kImageSize + x] =
            static_cast<std::uint8_t>(std::clamp(std::lround(value), 0L, 255L));
      }
    }
}

}  // namespace

Dataset make_synthetic(int n, std::uint64_t seed) {
  Dataset d;
  d.source = "synthetic";
  d.num_classes = 10;
  d.class_names.assign(kClassNames, kClassNames + 10);
  d.images.resize(static_cast<std::size_t>(n) * kImageBytes);
  d.labels.resize(n);
#pragma omp parallel for schedule(static)
  for (int k = 0; k < n; ++k) {
    // Each image has its own stream: independent of thread count.
    Draw draw{std::mt19937_64(seed * rng::kGoldenGamma + static_cast<std::uint64_t>(k))};
    const int cls = static_cast<int>(draw.engine() % 10);
    d.labels[k] = cls;
    render(cls, draw, d.images.data() + static_cast<std::size_t>(k) * kImageBytes);
  }
  return d;
}

}  // namespace sxb
