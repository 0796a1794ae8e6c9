// Ctrl-C (SIGINT) and SIGTERM (a batch scheduler's time limit) during a long
// command: the first signal asks the running training to stop after its
// current step and write its checkpoint; a second one ends the program at once.
#pragma once

#include <functional>

namespace sxb::app {

// Installs the handlers for its lifetime; the default handlers come back after.
class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  static bool requested();
  std::function<bool()> poll() const { return &StopSignal::requested; }
};

}  // namespace sxb::app
