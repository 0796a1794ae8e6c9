// The machine's double-precision multiply-add rate on one core, measured:
// a loop of independent vector FMA chains that never touches memory, compiled
// for the widest vector unit the CPU has (function multi-versioning). Speeds
// are quoted as a share of this peak (docs/performance.md).
#pragma once

namespace sxb::cpu {

// Multiply-adds per second of one thread, best of `rounds` runs of about
// `seconds` / rounds each.
double measured_fma_peak(double seconds = 0.2, int rounds = 5);

}  // namespace sxb::cpu
