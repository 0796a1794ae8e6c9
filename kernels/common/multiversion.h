// SXB_MULTIVERSION: compile a hot loop for AVX-512, AVX2 with FMA
// (x86-64-v3: Haswell, Zen 1-3 and later) and the baseline, picked at load
// time for the CPU it runs on (GCC target_clones on x86-64; AVX-512 first).
// The clones may contract a*b+c into FMAs, so results are bit-identical on
// one machine (for any thread count), not across CPU generations. (A plain
// "avx2" clone would have no FMA: half the multiply-add rate.)
// simd_level(): the clone they run on this CPU, for code whose best path
// depends on it.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SXB_MULTIVERSION __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#define SXB_SIMD_DISPATCH 1
#else
#define SXB_MULTIVERSION
#define SXB_SIMD_DISPATCH 0
#endif

namespace sxb {

enum class SimdLevel { baseline, avx2, avx512 };

inline SimdLevel simd_level() {
#if SXB_SIMD_DISPATCH
  static const SimdLevel level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SimdLevel::avx512;
    if (__builtin_cpu_supports("x86-64-v3")) return SimdLevel::avx2;
    return SimdLevel::baseline;
  }();
  return level;
#else
  return SimdLevel::baseline;
#endif
}

}  // namespace sxb
