// Every tensor of a safetensors file as stored: dtype name, shape and raw
// little-endian bytes, whatever the dtype (models/io/safetensors.h converts
// to fp32 for the VGG path instead). A file read and written back keeps every
// tensor's bytes, so tensors a tool does not change are copied exactly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sxb {

struct RawTensor {
  std::string dtype;  // as in the header: "F32", "BF16", "I64", "U8", ...
  std::vector<std::int64_t> shape;
  std::string bytes;

  std::int64_t numel() const;
};

struct RawSafetensors {
  std::map<std::string, RawTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Bytes per element of a safetensors dtype; 0 for a name it does not know.
int safetensors_dtype_size(const std::string& dtype);

// Errors name the file and, where it applies, the tensor: a header that is not
// JSON, a tensor without dtype, shape or data_offsets, data outside the file,
// overlapping tensors, and a byte count that disagrees with the shape for a
// known dtype (a tensor of an unknown dtype is kept as its bytes).
RawSafetensors read_safetensors_raw(const std::string& path);
// Written atomically, tensors in name order, the data section 8-byte aligned.
void write_safetensors_raw(const std::string& path, const RawSafetensors& file);

// The floating-point dtypes a tensor can be decoded from and encoded to.
bool is_float_dtype(const std::string& dtype);  // F32, F64, F16, BF16
// The values of a float tensor as fp32 (Error naming `name` for another dtype).
std::vector<float> decode_floats(const RawTensor& t, const std::string& name);
// Replaces t.bytes by `values` in t.dtype, rounded to nearest even for F16 and BF16.
void encode_floats(const std::vector<float>& values, RawTensor& t, const std::string& name);

}  // namespace sxb
