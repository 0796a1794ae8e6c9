// libFuzzer target: pruned layout files, <model>.layout.json
// (engine/crossbar/layout_file.h). An accepted layout must read back from its
// own to_json() unchanged.
#include "engine/crossbar/layout_file.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sxb;
  const std::string path = fuzz::as_file(data, size, "model.layout.json");
  NetworkLayout layout;
  if (!fuzz::accepts([&] { layout = read_layout_file(path); })) return 0;
  (void)layout.crossbars();
  const nlohmann::json j = to_json(layout);
  NetworkLayout back;
  if (!fuzz::accepts([&] { back = network_layout_from_json(j, "round trip"); }))
    fuzz::finding("layout: its own to_json() is rejected");
  if (to_json(back) != j) fuzz::finding("layout: to_json() changes on a round trip");
  return 0;
}
