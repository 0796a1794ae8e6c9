#include "models/io/safetensors_raw.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <set>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "kernels/common/error.h"
#include "models/io/atomic_file.h"

namespace sxb {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

constexpr std::uint64_t kMaxHeader = 100u << 20;  // the format's own limit is 100 MB

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(v) | sign);
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

// Round to nearest, ties to even; overflow to infinity; NaN stays NaN.
std::uint16_t float_to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0u));
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to infinity
  if (a < 0x38800000u) {  // below 2^-14: a subnormal half, units of 2^-24 (1024 units is the smallest normal)
    const auto m = static_cast<std::uint32_t>(std::nearbyint(std::bit_cast<float>(a) * 16777216.0f));
    return static_cast<std::uint16_t>(sign | m);
  }
  std::uint32_t h = (((a >> 23) - 127 + 15) << 10) | ((a & 0x7fffffu) >> 13);
  const std::uint32_t rest = a & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent, as it should
  return static_cast<std::uint16_t>(sign | h);
}

std::uint16_t float_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace

std::int64_t RawTensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) SXB_REQUIRE(!__builtin_mul_overflow(n, d, &n) && d >= 0, "tensor shape overflows");
  return n;
}

int safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "BOOL" || dtype == "U8" || dtype == "I8" || dtype == "F8_E5M2" || dtype == "F8_E4M3") return 1;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  return 0;
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

std::string shape_text(const std::vector<std::int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// The tensor of header entry `info`; `range` gets its data offsets.
RawTensor read_raw_tensor(const std::string& where, const nlohmann::json& info, const char* data,
                          std::size_t data_size, std::pair<std::uint64_t, std::uint64_t>& range) {
  SXB_REQUIRE(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
              where + ": needs dtype, shape and data_offsets");
  SXB_REQUIRE(info["dtype"].is_string(), where + ": dtype is not a string");
  RawTensor t;
  t.dtype = info["dtype"].get<std::string>();
  const int size = safetensors_dtype_size(t.dtype);  // 0: unknown, kept as its bytes
  SXB_REQUIRE(info["shape"].is_array(), where + ": shape is not a list");
  SXB_REQUIRE(info["shape"].size() <= 8,
              fmt::format("{}: shape has {} dimensions (at most 8)", where, info["shape"].size()));
  // The byte count, checked for overflow before each product.
  std::uint64_t bytes = static_cast<std::uint64_t>(std::max(size, 1));
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
  SXB_REQUIRE(begin <= end, fmt::format("{}: data_offsets [{}, {}] run backwards", where, begin, end));
  SXB_REQUIRE(size == 0 || end - begin == bytes,
              fmt::format("{}: data_offsets [{}, {}] hold {} bytes, shape {} of {} needs {}", where, begin, end,
                          end - begin, shape_text(t.shape), t.dtype, bytes));
  range = {begin, end};
  t.bytes.assign(data + begin, end - begin);
  return t;
}

}  // namespace

RawSafetensors read_safetensors_raw(const std::string& path) {
  SXB_REQUIRE(!std::filesystem::is_directory(path), path + ": is a folder, not a safetensors file");
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in.good(), path + ": cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SXB_REQUIRE(!in.bad(), path + ": cannot read");
  SXB_REQUIRE(bytes.size() >= 8, path + ": truncated (no safetensors header length)");
  std::uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  SXB_REQUIRE(header_len >= 2 && header_len <= kMaxHeader && header_len <= bytes.size() - 8,
              fmt::format("{}: header length {} does not fit the file ({} bytes, header at most {}): truncated or "
                          "not safetensors",
                          path, header_len, bytes.size(), kMaxHeader));
  // The header is a flat object of tensors; nesting is limited while parsing so that a
  // hostile header cannot overflow the stack of the recursive code that copies it.
  // A name given twice would silently keep the last entry: an error naming it.
  std::set<std::string> names;
  const nlohmann::json::parser_callback_t shallow = [&path, &names](int depth, nlohmann::json::parse_event_t event,
                                                                    nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
        !names.insert(parsed.get<std::string>()).second)
      throw Error(fmt::format("{}: tensor '{}' appears twice in the safetensors header", path, parsed.get<std::string>()));
    if ((event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start) &&
        depth >= 16)
      throw Error(path + ": safetensors header is nested deeper than 16 levels");
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len),
                                   shallow);
  } catch (const nlohmann::json::exception& e) {  // syntax, or a number out of range
    throw Error(path + ": safetensors header is not valid JSON (" + e.what() + ")");
  }
  SXB_REQUIRE(header.is_object(), path + ": safetensors header is not a JSON object");
  const std::size_t data_begin = 8 + header_len;
  const std::size_t data_size = bytes.size() - data_begin;

  RawSafetensors file;
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
    file.tensors.emplace(name, read_raw_tensor(fmt::format("{}: tensor '{}'", path, name), info,
                                               bytes.data() + data_begin, data_size, ranges.back()));
  }
  // The tensors cover the data section exactly: no overlap, no gap, nothing after.
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

void write_safetensors_raw(const std::string& path, const RawSafetensors& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string data;
  for (const auto& [name, t] : file.tensors) {
    if (const int size = safetensors_dtype_size(t.dtype); size > 0)
      SXB_REQUIRE(t.bytes.size() == static_cast<std::size_t>(t.numel()) * static_cast<std::size_t>(size),
                  fmt::format("{}: tensor '{}' has {} bytes for its shape and {}", path, name, t.bytes.size(), t.dtype));
    const std::size_t begin = data.size();
    data += t.bytes;
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // align the data section
  const std::uint64_t n = text.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  out += text;
  out += data;
  write_file_atomic(path, out);
}

bool is_float_dtype(const std::string& dtype) {
  return dtype == "F32" || dtype == "F64" || dtype == "F16" || dtype == "BF16";
}

std::vector<float> decode_floats(const RawTensor& t, const std::string& name) {
  SXB_REQUIRE(is_float_dtype(t.dtype),
              fmt::format("tensor '{}': dtype {} is not a float type (F32, F64, F16, BF16)", name, t.dtype));
  const std::size_t n = static_cast<std::size_t>(t.numel());
  SXB_REQUIRE(t.bytes.size() == n * static_cast<std::size_t>(safetensors_dtype_size(t.dtype)),
              fmt::format("tensor '{}': {} bytes do not hold its shape in {}", name, t.bytes.size(), t.dtype));
  std::vector<float> out(n);
  const char* src = t.bytes.data();
  for (std::size_t k = 0; k < n; ++k) {
    if (t.dtype == "F32") {
      std::memcpy(&out[k], src + 4 * k, 4);
    } else if (t.dtype == "F64") {
      double v;
      std::memcpy(&v, src + 8 * k, 8);
      out[k] = static_cast<float>(v);
    } else {
      std::uint16_t v;
      std::memcpy(&v, src + 2 * k, 2);
      out[k] = t.dtype == "F16" ? half_to_float(v) : std::bit_cast<float>(static_cast<std::uint32_t>(v) << 16);
    }
  }
  return out;
}

void encode_floats(const std::vector<float>& values, RawTensor& t, const std::string& name) {
  SXB_REQUIRE(is_float_dtype(t.dtype),
              fmt::format("tensor '{}': dtype {} is not a float type (F32, F64, F16, BF16)", name, t.dtype));
  SXB_REQUIRE(static_cast<std::int64_t>(values.size()) == t.numel(),
              fmt::format("tensor '{}': {} values for a shape of {} elements", name, values.size(), t.numel()));
  const std::size_t size = static_cast<std::size_t>(safetensors_dtype_size(t.dtype));
  t.bytes.resize(values.size() * size);
  char* dst = t.bytes.data();
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (t.dtype == "F32") {
      std::memcpy(dst + 4 * k, &values[k], 4);
    } else if (t.dtype == "F64") {
      const double v = values[k];
      std::memcpy(dst + 8 * k, &v, 8);
    } else {
      const std::uint16_t v = t.dtype == "F16" ? float_to_half(values[k]) : float_to_bf16(values[k]);
      std::memcpy(dst + 2 * k, &v, 2);
    }
  }
}

}  // namespace sxb
