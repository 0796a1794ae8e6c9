// safetensors reader/writer: round trip, a file assembled by hand (as an
// independent writer would), dtype conversion and corrupt files.
#include <gtest/gtest.h>

#include <limits>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "kernels/common/error.h"
#include "models/io/safetensors.h"

namespace sxb {
namespace {

std::string temp_path(const std::string& name) { return testing::TempDir() + "/" + name; }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A safetensors file built byte by byte: header text given literally.
std::string hand_made(const std::string& header, const std::string& data) {
  const std::uint64_t n = header.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + header + data;
}

template <class T>
std::string raw(std::initializer_list<T> values) {
  std::string s;
  for (T v : values) s.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return s;
}

std::string error_of(const std::string& path) {
  try {
    read_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTrip) {
  SafetensorsFile f;
  f.tensors["features.0.weight"] = {{2, 1, 3, 3}, std::vector<float>(18), "F32"};
  for (int k = 0; k < 18; ++k) f.tensors["features.0.weight"].data[k] = 0.25f * k - 1.0f;
  f.tensors["features.1.num_batches_tracked"] = {{}, {391.0f}, "I64"};
  f.metadata["format"] = "pt";
  const std::string path = temp_path("roundtrip.safetensors");
  write_safetensors(path, f);
  const SafetensorsFile g = read_safetensors(path);
  ASSERT_EQ(g.tensors.size(), 2u);
  EXPECT_EQ(g.tensors.at("features.0.weight").shape, (std::vector<std::int64_t>{2, 1, 3, 3}));
  EXPECT_EQ(g.tensors.at("features.0.weight").data, f.tensors["features.0.weight"].data);
  EXPECT_EQ(g.tensors.at("features.1.num_batches_tracked").dtype, "I64");
  EXPECT_EQ(g.tensors.at("features.1.num_batches_tracked").data[0], 391.0f);
  EXPECT_EQ(g.metadata.at("format"), "pt");
  // Header length is a multiple of 8 so the data section is aligned.
  std::ifstream in(path, std::ios::binary);
  std::uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, ReadsAnIndependentlyWrittenFileWithEveryDtype) {
  // F32 [2], F64 [1], F16 [3] (1.0, -2.0, 0.5), BF16 [1] (1.5), I64 [] (7), in one file.
  const std::string data = raw<float>({1.5f, -3.0f}) + raw<double>({0.125}) +
                           raw<std::uint16_t>({0x3c00, 0xc000, 0x3800}) + raw<std::uint16_t>({0x3fc0}) +
                           raw<std::int64_t>({7});
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F64","shape":[1,1],"data_offsets":[8,16]},)"
      R"("c":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},)"
      R"("d":{"dtype":"BF16","shape":[1],"data_offsets":[22,24]},)"
      R"("e":{"dtype":"I64","shape":[],"data_offsets":[24,32]},"__metadata__":{"format":"pt"}})";
  const std::string path = temp_path("independent.safetensors");
  write_bytes(path, hand_made(header, data));
  const SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.tensors.at("a").data, (std::vector<float>{1.5f, -3.0f}));
  EXPECT_EQ(f.tensors.at("b").data[0], 0.125f);
  EXPECT_EQ(f.tensors.at("b").shape, (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(f.tensors.at("c").data, (std::vector<float>{1.0f, -2.0f, 0.5f}));
  EXPECT_EQ(f.tensors.at("d").data[0], 1.5f);
  EXPECT_EQ(f.tensors.at("e").data[0], 7.0f);
  EXPECT_EQ(f.tensors.at("e").numel(), 1);
}

TEST(Safetensors, CorruptFilesAreClearErrors) {
  const std::string good_header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string good = hand_made(good_header, raw<float>({1.0f, 2.0f}));
  struct Case {
    std::string name, bytes, needle;
  } cases[] = {
      {"short", "abc", "truncated"},
      {"truncated_data", good.substr(0, good.size() - 3), "tensor 'w': data ends at byte 8"},
      {"huge_header", raw<std::uint64_t>({1ull << 40}) + "{}", "header length"},
      {"bad_json", hand_made("{\"w\": [", ""), "not valid JSON"},
      {"wrong_size", hand_made(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", raw<float>({1, 2})),
       "tensor 'w': data_offsets [0, 8] hold 8 bytes"},
      {"bad_dtype", hand_made(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", raw<float>({1, 2})),
       "unsupported dtype Q4"},
      {"overlap",
       hand_made(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 raw<float>({1, 2})),
       "overlap"},
      {"negative_shape", hand_made(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", raw<float>({1, 2})),
       "shape entries"},
      {"missing_keys", hand_made(R"({"w":{"dtype":"F32"}})", ""), "needs dtype, shape and data_offsets"},
      // Products that overflow 64 bits are caught before they are formed.
      {"overflowing_shape",
       hand_made(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})",
                 raw<float>({1, 2})),
       "more elements than any file could hold"},
      {"huge_shape_entry",
       hand_made(R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", raw<float>({1, 2})),
       "larger than any file could hold"},
      {"too_many_dims",
       hand_made(R"({"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}})", raw<float>({1, 2})),
       "9 dimensions"},
      // The declared dtype must account for the bytes: 8 bytes are 2 F32 but 1 F64.
      {"dtype_vs_bytes", hand_made(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", raw<float>({1, 2})),
       "shape [2] of F64 needs 16"},
      {"float_offset", hand_made(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}})", raw<float>({1, 2})),
       "data_offsets must be non-negative integers"},
      {"trailing_bytes", hand_made(good_header, raw<float>({1, 2, 3})), "data bytes 8..12 belong to no tensor"},
      {"gap",
       hand_made(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                 raw<float>({1, 2, 3})),
       "data bytes 4..8 belong to no tensor"},
      {"zero_header", raw<std::uint64_t>({0}) + "{}", "header length 0"},
      // Found by fuzzing: a number too large for a double, a deeply nested header.
      {"number_out_of_range", hand_made(R"({"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,8]}})", ""),
       "not valid JSON"},
      {"nested_header", hand_made(std::string(40, '[') + std::string(40, ']'), ""), "nested deeper"},
      {"i64_max", hand_made(R"({"n":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})",
                            raw<std::int64_t>({std::numeric_limits<std::int64_t>::max()})),
       "I64 value 9223372036854775807 at flat index 0 is too large"},
  };
  for (const Case& c : cases) {
    const std::string path = temp_path(c.name + ".safetensors");
    write_bytes(path, c.bytes);
    const std::string msg = error_of(path);
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.name << ": '" << msg << "'";
    EXPECT_NE(msg.find(path), std::string::npos) << c.name << ": '" << msg << "'";
  }
  EXPECT_NE(error_of(temp_path("absent.safetensors")).find("cannot open"), std::string::npos);
}

// An I64 tensor is held as floats: a value beyond int64 is refused on write, never cast (found by fuzzing).
TEST(Safetensors, IntegersBeyondInt64AreNotWrittenBack) {
  SafetensorsFile f;
  f.tensors["n"] = HostTensor{{2}, {5.0f, 0x1p63f}, "I64"};
  const std::string path = temp_path("i64.safetensors");
  try {
    write_safetensors(path, f);
    ADD_FAILURE() << "2^63 written as I64";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'n' holds"), std::string::npos) << e.what();
  }
  f.tensors["n"].data[1] = -7.0f;
  write_safetensors(path, f);
  EXPECT_EQ(read_safetensors(path).tensors.at("n").data, (std::vector<float>{5.0f, -7.0f}));
}

TEST(Safetensors, ElementCountsAreCheckedForOverflow) {
  EXPECT_EQ((HostTensor{{3, 0, 5}, {}, "F32"}.numel()), 0);
  EXPECT_EQ((HostTensor{{1ll << 31, 1ll << 31}, {}, "F32"}.numel()), 1ll << 62);
  EXPECT_THROW((HostTensor{{1ll << 32, 1ll << 32}, {}, "F32"}.numel()), Error);
  EXPECT_THROW((HostTensor{{-1, 4}, {}, "F32"}.numel()), Error);
}

}  // namespace
}  // namespace sxb
