// libFuzzer target: sweep files (engine/studies/sweep.h): read, expanded into
// points and every point checked, as `sparsexbar sweep` does before running.
#include "engine/studies/sweep.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sxb;
  const std::string path = fuzz::as_file(data, size, "sweep.json");
  fuzz::accepts([&] { read_sweep(path); });
  return 0;
}
