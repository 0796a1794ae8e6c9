// Strict numbers on the command line. CLI11 converts "-1" into 2^64 - 1 for
// an unsigned option and accepts "nan" and "inf" for a floating-point one;
// strict_numbers() puts a check on every numeric option of the tree so such
// values are usage errors before any work starts. --threads is capped:
// OpenMP runtimes crash (stack overflow) when asked for 100000 threads.
#pragma once

#include <CLI/CLI.hpp>

namespace sxb::app {

// Every INT option: a plain integer; UINT: no sign; FLOAT: finite.
void strict_numbers(CLI::App& app);

// The most OpenMP threads a command accepts: 4 x the hardware threads, at
// least 16 (more only oversubscribe the cores; results do not depend on it).
int max_threads();

// --threads N: 0 (all cores) .. max_threads().
CLI::Option* add_threads_option(CLI::App* cmd, int& threads, const std::string& help);

// Sets the OpenMP thread count when `threads` > 0 (checked by add_threads_option).
void use_threads(int threads);

}  // namespace sxb::app
