// libFuzzer target: single-tile JSON (engine/crossbar/tile_json.h), read and,
// when small, solved on the CPU as `sparsexbar tile` would (the parse
// validated the tile, so the solve must not throw anything but sxb::Error).
#include <optional>

#include "engine/crossbar/tile_json.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sxb;
  const std::string path = fuzz::as_file(data, size, "tile.json");
  std::optional<TileProblem> read;
  if (!fuzz::accepts([&] { read.emplace(read_tile_problem(path)); })) return 0;
  TileProblem& p = *read;
  const TileView t = p.view();
  if (static_cast<long long>(t.rows) * t.cols > 4096 || p.voltages.size() > 4096) return 0;  // keeps runs fast
  p.backend = p.backend == Backend::Reference ? Backend::Reference : Backend::Cpu;
  fuzz::accepts([&] { solve_tile_problem(p, {.transfer = true, .nf = true}, [](const std::string&) {}); });
  return 0;
}
