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
#include "kernels/common/error.h"

namespace sxb {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

constexpr std::uint64_t kMaxHeader = 100u << 20;  // the format's own limit is 100 MB

int dtype_size(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      std::uint32_t m = mant;
      do {
        ++e;
        m <<= 1;
      } while (!(m & 0x400));
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

void convert(const std::string& dtype, const char* src, std::size_t n, float* dst) {
  for (std::size_t k = 0; k < n; ++k) {
    if (dtype == "F32") {
      std::memcpy(&dst[k], src + 4 * k, 4);
    } else if (dtype == "F64") {
      double v;
      std::memcpy(&v, src + 8 * k, 8);
      dst[k] = static_cast<float>(v);
    } else if (dtype == "F16") {
      std::uint16_t v;
      std::memcpy(&v, src + 2 * k, 2);
      dst[k] = half_to_float(v);
    } else if (dtype == "BF16") {
      std::uint16_t v;
      std::memcpy(&v, src + 2 * k, 2);
      dst[k] = std::bit_cast<float>(static_cast<std::uint32_t>(v) << 16);
    } else if (dtype == "I64") {
      std::int64_t v;
      std::memcpy(&v, src + 8 * k, 8);
      dst[k] = static_cast<float>(v);
    } else {  // I32
      std::int32_t v;
      std::memcpy(&v, src + 4 * k, 4);
      dst[k] = static_cast<float>(v);
    }
  }
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

namespace {

// A non-negative integer of the header (shape entry, data offset) up to `max`.
std::uint64_t header_count(const nlohmann::json& v, std::uint64_t max, const std::string& what) {
  SXB_REQUIRE(v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0),
              what + " must be non-negative integers");
  const std::uint64_t n = v.get<std::uint64_t>();
  SXB_REQUIRE(n <= max, fmt::format("{} {} is larger than any file could hold", what, n));
  return n;
}

// The tensor `name` of the header, its values converted from `data`.
HostTensor read_tensor(const std::string& where, const nlohmann::json& info, const char* data, std::size_t data_size,
                       std::pair<std::uint64_t, std::uint64_t>& range) {
  SXB_REQUIRE(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
              where + ": needs dtype, shape and data_offsets");
  SXB_REQUIRE(info["dtype"].is_string(), where + ": dtype is not a string");
  const std::string dtype = info["dtype"].get<std::string>();
  const int size = dtype_size(dtype);
  SXB_REQUIRE(size > 0, where + ": unsupported dtype " + dtype + " (F32, F64, F16, BF16, I64, I32)");
  HostTensor t;
  SXB_REQUIRE(info["shape"].is_array(), where + ": shape is not a list");
  SXB_REQUIRE(info["shape"].size() <= 8, fmt::format("{}: shape has {} dimensions (at most 8)", where,
                                                     info["shape"].size()));
  // The byte count, checked for overflow before each product.
  std::uint64_t bytes = static_cast<std::uint64_t>(size);
  for (const auto& d : info["shape"]) {
    t.shape.push_back(static_cast<std::int64_t>(header_count(d, std::uint64_t{1} << 48, where + ": shape entries")));
    SXB_REQUIRE(!__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(t.shape.back()), &bytes),
                where + ": shape " + shape_text(t.shape) + "... has more elements than any file could hold");
  }
  const auto& off = info["data_offsets"];
  SXB_REQUIRE(off.is_array() && off.size() == 2, where + ": data_offsets must be two non-negative integers");
  const std::uint64_t begin = header_count(off[0], data_size, where + ": data_offsets"),
                      end = header_count(off[1], std::numeric_limits<std::uint64_t>::max(), where + ": data_offsets");
  SXB_REQUIRE(end <= data_size, fmt::format("{}: data ends at byte {} but the file has {} data bytes (truncated)",
                                            where, end, data_size));
  SXB_REQUIRE(begin <= end && end - begin == bytes,
              fmt::format("{}: data_offsets [{}, {}] hold {} bytes, shape {} of {} needs {}", where, begin, end,
                          end - begin, shape_text(t.shape), dtype, bytes));
  range = {begin, end};
  t.data.resize(static_cast<std::size_t>(bytes / static_cast<std::uint64_t>(size)));
  convert(dtype, data + begin, t.data.size(), t.data.data());
  t.dtype = dtype == "I64" || dtype == "I32" ? "I64" : "F32";
  return t;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in.good(), path + ": cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SXB_REQUIRE(bytes.size() >= 8, path + ": truncated (no safetensors header length)");
  std::uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  SXB_REQUIRE(header_len >= 2 && header_len <= kMaxHeader && header_len <= bytes.size() - 8,
              fmt::format("{}: header length {} does not fit the file ({} bytes, header at most {}): truncated or "
                          "not safetensors",
                          path, header_len, bytes.size(), kMaxHeader));
  nlohmann::json header;
  // The header is a flat object of tensors; nesting is limited while parsing so that a
  // hostile header cannot overflow the stack of the recursive code that copies it.
  const nlohmann::json::parser_callback_t shallow = [&path](int depth, nlohmann::json::parse_event_t event,
                                                            nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) &&
        depth >= 16)
      throw Error(path + ": safetensors header is nested deeper than 16 levels");
    return true;
  };
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len),
                                   shallow);
  } catch (const nlohmann::json::exception& e) {  // syntax, or a number out of range
    throw Error(path + ": safetensors header is not valid JSON (" + e.what() + ")");
  }
  SXB_REQUIRE(header.is_object(), path + ": safetensors header is not a JSON object");
  const std::size_t data_begin = 8 + header_len;
  const std::size_t data_size = bytes.size() - data_begin;

  SafetensorsFile file;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      SXB_REQUIRE(info.is_object(), path + ": __metadata__ is not an object");
      for (const auto& [k, v] : info.items()) {
        SXB_REQUIRE(v.is_string(), fmt::format("{}: __metadata__.{} is not a string", path, k));
        file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    ranges.emplace_back();
    file.tensors.emplace(name, read_tensor(fmt::format("{}: tensor '{}'", path, name), info,
                                           bytes.data() + data_begin, data_size, ranges.back()));
  }
  // As the format requires: the tensors cover the data section, without gaps or overlaps.
  std::sort(ranges.begin(), ranges.end());
  std::uint64_t covered = 0;
  for (const auto& [begin, end] : ranges) {
    SXB_REQUIRE(begin >= covered || begin == end, path + ": tensors overlap in the data section");
    SXB_REQUIRE(begin <= covered || begin == end,
                fmt::format("{}: data bytes {}..{} belong to no tensor", path, covered, begin));
    covered = std::max(covered, end);
  }
  SXB_REQUIRE(covered == data_size,
              fmt::format("{}: data bytes {}..{} belong to no tensor (trailing bytes)", path, covered, data_size));
  return file;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string data;
  for (const auto& [name, t] : file.tensors) {
    SXB_REQUIRE(static_cast<std::int64_t>(t.data.size()) == t.numel(),
                fmt::format("{}: tensor '{}' has {} values for its shape", path, name, t.data.size()));
    const std::size_t begin = data.size();
    if (t.dtype == "I64") {
      for (float v : t.data) {
        // Integers are held as floats: a value beyond int64 (or NaN) cannot be written back.
        SXB_REQUIRE(std::isfinite(v) && v >= -0x1p63f && v < 0x1p63f,
                    fmt::format("{}: tensor '{}' holds {} which is not an I64 value", path, name, v));
        const auto i = static_cast<std::int64_t>(v);
        data.append(reinterpret_cast<const char*>(&i), 8);
      }
    } else {
      data.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * 4);
    }
    header[name] = {{"dtype", t.dtype == "I64" ? "I64" : "F32"}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // align the data section
  const std::uint64_t n = text.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  out += text;
  out += data;
  write_file_atomic(path, out);
}

}  // namespace sxb
