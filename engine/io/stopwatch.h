// Wall-clock timing and the default progress log of the engine's long runs
// (training, pruning, evaluation, sweeps): one definition of each.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

namespace sxb {

using Clock = std::chrono::steady_clock;

// Seconds from t0 to now.
inline double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Seconds since construction or the last restart().
class Stopwatch {
 public:
  Stopwatch() : start_(Clock::now()) {}
  double seconds() const { return seconds_since(start_); }
  void restart() { start_ = Clock::now(); }

 private:
  Clock::time_point start_;
};

// A progress line sink; the default writes each line to standard error.
using LogLine = std::function<void(const std::string& line)>;
inline void log_line_to_stderr(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }
inline LogLine log_or_stderr(const LogLine& log) { return log ? log : LogLine(log_line_to_stderr); }

}  // namespace sxb
