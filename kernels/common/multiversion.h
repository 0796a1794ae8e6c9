// SXB_MULTIVERSION: compile a hot loop for AVX-512, AVX2 and the baseline,
// picked at load time for the CPU it runs on (GCC target_clones on x86-64).
// The clones may contract a*b+c into FMAs, so results are bit-identical on
// one machine (for any thread count), not across CPU generations.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SXB_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SXB_MULTIVERSION
#endif
