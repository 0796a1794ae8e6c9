// OpenBLAS core selection. OpenBLAS 0.3.21 (Debian 12) does not recognise
// some newer Intel cores and falls back to its SSE3 "Prescott" kernels, about
// 2.5x slower SGEMM on an AVX-512 machine; the OPENBLAS_CORETYPE environment
// variable, read when the library loads, overrides its choice.
#pragma once

#include <string>

namespace sxb {

// The core OpenBLAS chose ("Prescott", "SkylakeX", ...).
std::string openblas_core();

// The OPENBLAS_CORETYPE to use instead of `detected`: "SkylakeX" or
// "Haswell" when `detected` is the generic Prescott fallback and this CPU has
// AVX-512 (F, BW, DQ, VL) or AVX2 with FMA; empty when the choice is fine.
std::string better_openblas_core(const std::string& detected);

}  // namespace sxb
