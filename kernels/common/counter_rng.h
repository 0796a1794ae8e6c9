// The one family of random draws of the project: counter-based SplitMix64
// hashes. A draw is a pure function of (seed, stream, index), so results do
// not depend on thread count, batch size, tiling or backend. Every function
// is constexpr, hence callable from CUDA device code (nvcc
// --expt-relaxed-constexpr) as well as from the host.
#pragma once

#include <cstdint>

namespace sxb::rng {

// 2^64 / golden ratio: the SplitMix64 increment.
inline constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// The SplitMix64 finaliser (Stafford's variant 13): a bijection of 64-bit words.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One SplitMix64 step from state z: mix64(z + gamma).
constexpr std::uint64_t splitmix64(std::uint64_t z) { return mix64(z + kGoldenGamma); }

// Draw `index` of stream `stream` under `seed`.
constexpr std::uint64_t counter_hash(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ index);
}

// Draw (a, b) of stream `stream` under `seed`: a two-dimensional counter.
constexpr std::uint64_t counter_hash(std::uint64_t seed, std::uint64_t stream, std::uint64_t a, std::uint64_t b) {
  return splitmix64(counter_hash(seed, stream, a) ^ splitmix64(b));
}

// Uniform in [0, 1) from the top 53 bits of a draw; exact on every platform.
constexpr double unit_uniform(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Uniform in (0, 1] from the top 53 bits (safe under a logarithm).
constexpr double open_unit_uniform(std::uint64_t bits) {
  return static_cast<double>((bits >> 11) + 1) * 0x1.0p-53;
}

// Uniform in [0, 1) from the top 24 bits (exact in float).
constexpr double unit_uniform24(std::uint64_t bits) { return static_cast<double>(bits >> 40) * 0x1.0p-24; }

// A sequential SplitMix64 generator: next() = mix64(state += gamma).
struct SplitMix64 {
  std::uint64_t state = 0;
  constexpr std::uint64_t next() { return mix64(state += kGoldenGamma); }
  // In [0, n) by remainder (n > 0; slightly biased for n not a power of two).
  constexpr std::uint64_t below(std::uint64_t n) { return next() % n; }
};

}  // namespace sxb::rng
