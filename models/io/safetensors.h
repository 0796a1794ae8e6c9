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

  std::int64_t numel() const;  // Error for a negative entry or an overflowing product
};

std::string shape_text(const std::vector<std::int64_t>& shape);  // "[2, 3]"

struct SafetensorsFile {
  std::map<std::string, HostTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Errors name the file and, where it applies, the tensor. Checked: the header
// length (2 bytes .. 100 MB, inside the file), each tensor's dtype, shape (at
// most 8 dimensions, products checked for overflow) and byte length, and that
// the tensors cover the data section exactly (no gaps, overlaps or trailing
// bytes). Values are not checked here (models/weight_checks.h does that).
SafetensorsFile read_safetensors(const std::string& path);
// Written atomically (temporary file + rename).
void write_safetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace sxb
