// safetensors files (https://github.com/huggingface/safetensors): 8-byte
// little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the raw little-endian tensor bytes. Tensors are held as fp32 on the
// host; F64, F16, BF16 and I64 (PyTorch's num_batches_tracked) convert on load.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sxb {

struct HostTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
  std::string dtype = "F32";  // dtype written back out: "F32" or "I64"

  std::int64_t numel() const;
};

struct SafetensorsFile {
  std::map<std::string, HostTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Errors name the file and, where it applies, the tensor.
SafetensorsFile read_safetensors(const std::string& path);
// Written atomically (temporary file + rename).
void write_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace sxb
