// libFuzzer target: the safetensors reader (models/io/safetensors.h). An
// accepted file must survive write_safetensors -> read_safetensors unchanged.
#include <cstring>

#include "models/io/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sxb;
  const std::string path = fuzz::as_file(data, size, "model.safetensors");
  SafetensorsFile file;
  if (!fuzz::accepts([&] { file = read_safetensors(path); })) return 0;
  const std::string again = (fuzz::scratch_dir() / "again.safetensors").string();
  write_safetensors(again, file);
  const SafetensorsFile back = read_safetensors(again);
  if (back.metadata != file.metadata || back.tensors.size() != file.tensors.size())
    fuzz::finding("safetensors: metadata or tensor names change on a round trip");
  for (const auto& [name, t] : file.tensors) {
    const HostTensor& b = back.tensors.at(name);
    if (b.shape != t.shape || b.dtype != t.dtype || b.data.size() != t.data.size() ||
        (!t.data.empty() && std::memcmp(b.data.data(), t.data.data(), t.data.size() * sizeof(float)) != 0))
      fuzz::finding("safetensors: tensor '" + name + "' changes on a round trip");
  }
  return 0;
}
