#include "models/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/io/atomic_file.h"
#include "models/io/safetensors_raw.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");


int dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

// The values of `t` as fp32 (integers as floats, "I64").
HostTensor host_tensor(const RawTensor& t, const std::string& where) {
  SXB_REQUIRE(dtype_size(t.dtype) > 0, where + ": unsupported dtype " + t.dtype + " (F32, F64, F16, BF16, I64, I32)");
  HostTensor h;
  h.shape = t.shape;
  if (is_float_dtype(t.dtype)) {
    h.data = decode_floats(t, where);
    h.dtype = "F32";
    return h;
  }
  const std::size_t size = static_cast<std::size_t>(dtype_size(t.dtype));
  h.data.resize(t.bytes.size() / size);
  for (std::size_t k = 0; k < h.data.size(); ++k) {
    if (size == 8) {
      std::int64_t v;
      std::memcpy(&v, t.bytes.data() + 8 * k, 8);
      h.data[k] = static_cast<float>(v);
      // Near INT64_MAX the float is 2^63, which no I64 holds: it could not be written back.
      SXB_REQUIRE(h.data[k] < 0x1p63f,
                  fmt::format("{}: I64 value {} at flat index {} is too large to be held", where, v, k));
    } else {
      std::int32_t v;
      std::memcpy(&v, t.bytes.data() + 4 * k, 4);
      h.data[k] = static_cast<float>(v);
    }
  }
  h.dtype = "I64";
  return h;
}

}  // namespace

std::int64_t HostTensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape)
    SXB_REQUIRE(d >= 0 && !__builtin_mul_overflow(n, d, &n),
                "tensor shape " + shape_text(shape) + " has no valid element count");
  return n;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

SafetensorsFile read_safetensors(const std::string& path) {
  const RawSafetensors raw = read_safetensors_raw(path);  // every check of the format
  SafetensorsFile file;
  file.metadata = raw.metadata;
  for (const auto& [name, t] : raw.tensors) file.tensors.emplace(name, host_tensor(t, fmt::format("{}: tensor '{}'", path, name)));
  return file;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  RawSafetensors raw;  // F32, or I64 for integers held as floats; laid out by write_safetensors_raw
  raw.metadata = file.metadata;
  for (const auto& [name, t] : file.tensors) {
    SXB_REQUIRE(static_cast<std::int64_t>(t.data.size()) == t.numel(),
                fmt::format("{}: tensor '{}' has {} values for its shape", path, name, t.data.size()));
    RawTensor& r = raw.tensors[name];
    r.shape = t.shape;
    if (t.dtype == "I64") {
      r.dtype = "I64";
      for (float v : t.data) {
        // Integers are held as floats: a value beyond int64 (or NaN) cannot be written back.
        SXB_REQUIRE(std::isfinite(v) && v >= -0x1p63f && v < 0x1p63f,
                    fmt::format("{}: tensor '{}' holds {} which is not an I64 value", path, name, v));
        const auto i = static_cast<std::int64_t>(v);
        r.bytes.append(reinterpret_cast<const char*>(&i), 8);
      }
    } else {
      r.dtype = "F32";
      r.bytes.assign(reinterpret_cast<const char*>(t.data.data()), t.data.size() * 4);
    }
  }
  write_safetensors_raw(path, raw);
}

}  // namespace sxb
