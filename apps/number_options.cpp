#include "apps/number_options.h"

#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>

namespace sxb::app {
namespace {

bool all_digits(const std::string& s, std::size_t from) {
  return from < s.size() && std::all_of(s.begin() + from, s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// "" when `text` is a plain integer (a sign only when `is_signed`), else why not.
std::string check_integer(const std::string& text, bool is_signed) {
  const std::size_t from = !text.empty() && (text[0] == '+' || (is_signed && text[0] == '-')) ? 1 : 0;
  if (!all_digits(text, from))
    return "'" + text + "' is not " + (is_signed ? "an integer" : "a non-negative integer");
  errno = 0;
  if (is_signed)
    (void)std::strtoll(text.c_str(), nullptr, 10);
  else
    (void)std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return "'" + text + "' is out of range";
  return "";
}

std::string check_finite(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return "'" + text + "' is not a number";
  if (!std::isfinite(v)) return "'" + text + "' is not a finite number";
  return "";
}

void add_checks(CLI::App& app) {
  for (CLI::Option* o : app.get_options()) {
    const std::string type = o->get_type_name();
    const std::string base = type.substr(0, type.find(':'));
    if (base == "INT")
      o->check(CLI::Validator([](std::string& s) { return check_integer(s, true); }, ""));
    else if (base == "UINT")
      o->check(CLI::Validator([](std::string& s) { return check_integer(s, false); }, ""));
    else if (base == "FLOAT")
      o->check(CLI::Validator([](std::string& s) { return check_finite(s); }, ""));
  }
  for (CLI::App* sub : app.get_subcommands({})) add_checks(*sub);
}

}  // namespace

void strict_numbers(CLI::App& app) { add_checks(app); }

int max_threads() {
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(16, 4 * hw);
}

CLI::Option* add_threads_option(CLI::App* cmd, int& threads, const std::string& help) {
  return cmd->add_option("--threads", threads, help)
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            if (std::string why = check_integer(s, false); !why.empty()) return why;
            const unsigned long long n = std::strtoull(s.c_str(), nullptr, 10);
            const int cap = max_threads();
            if (n > static_cast<unsigned long long>(cap))
              return "'" + s + "': at most " + std::to_string(cap) +
                     " threads (4 x this machine's hardware threads, at least 16)";
            return "";
          },
          ""))
      ->capture_default_str();
}

void use_threads(int threads) {
  if (threads > 0) omp_set_num_threads(std::min(threads, max_threads()));
}

}  // namespace sxb::app
