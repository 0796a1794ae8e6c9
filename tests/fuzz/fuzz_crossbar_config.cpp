// libFuzzer target: crossbar configuration files (engine/crossbar/crossbar_config.h).
// An accepted configuration must read back from its own to_json() unchanged.
#include "engine/crossbar/crossbar_config.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sxb;
  const std::string path = fuzz::as_file(data, size, "crossbar.json");
  CrossbarConfig c;
  if (!fuzz::accepts([&] { c = read_crossbar_config(path); })) return 0;
  const nlohmann::json j = c.to_json();
  CrossbarConfig back;
  if (!fuzz::accepts([&] { back = crossbar_config_from_json(j, "round trip"); }))
    fuzz::finding("crossbar config: its own to_json() is rejected: " + j.dump());
  if (back.to_json() != j) fuzz::finding("crossbar config: to_json() changes on a round trip: " + j.dump());
  return 0;
}
