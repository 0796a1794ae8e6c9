// OpenBLAS core selection (kernels/common/blas_core.h).
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "kernels/common/blas_core.h"

namespace sxb {
namespace {

TEST(BlasCore, OnlyTheGenericFallbackIsReplaced) {
  for (const char* fine : {"SkylakeX", "Haswell", "Zen", "Cooperlake", ""}) EXPECT_EQ(better_openblas_core(fine), "");
  const std::string better = better_openblas_core("Prescott");
  EXPECT_EQ(better_openblas_core("PRESCOTT"), better);
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  EXPECT_EQ(better, avx512 ? "SkylakeX" : avx2 ? "Haswell" : "");
#else
  EXPECT_EQ(better, "");
#endif
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(BlasCore, TheCoreTypeVariableIsHonoured) {
  // Under OPENBLAS_CORETYPE (as sparsexbar restarts itself) OpenBLAS reports
  // that core; otherwise the one it chose.
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  const std::string core = openblas_core();
  EXPECT_FALSE(core.empty());
  if (forced) EXPECT_EQ(lower(core), lower(forced));
}

}  // namespace
}  // namespace sxb
