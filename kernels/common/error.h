// Project exception type and checking macros shared by every layer.
#pragma once

#include <stdexcept>
#include <string>

namespace sxb {

// The one exception type of the project. `what()` is a one-line, user-facing
// reason; `where()` names the source location for developers.
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, const char* file = "", int line = 0)
      : std::runtime_error(message), where_(std::string(file) + ":" + std::to_string(line)) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

}  // namespace sxb

// Throws sxb::Error with `message` (a std::string expression) unless `cond` holds.
#define SXB_REQUIRE(cond, message)                               \
  do {                                                           \
    if (!(cond)) throw ::sxb::Error((message), __FILE__, __LINE__); \
  } while (0)
