// Raw safetensors I/O: every dtype's bytes survive a round trip, float
// decoding and encoding round to nearest even, and malformed files are errors.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "models/io/safetensors_raw.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

RawTensor floats(const std::string& dtype, std::vector<std::int64_t> shape, const std::vector<float>& values) {
  RawTensor t{dtype, std::move(shape), {}};
  encode_floats(values, t, "t");
  return t;
}

TEST(SafetensorsRaw, RoundTripKeepsEveryDtypeAndTheMetadata) {
  RawSafetensors f;
  f.metadata["format"] = "pt";
  f.tensors["a.weight"] = floats("BF16", {2, 3}, {1.0f, -2.5f, 0.125f, 3.0f, 0.0f, -0.0f});
  f.tensors["b"] = RawTensor{"U8", {3}, std::string("\x01\x02\xff", 3)};
  f.tensors["c"] = RawTensor{"F8_E4M3", {2}, std::string("\x7e\x00", 2)};
  f.tensors["d"] = RawTensor{"SOMETHING_NEW", {5}, "abc"};  // unknown dtype: bytes as given
  f.tensors["e"] = floats("F64", {1}, {0.1f});
  const std::string path = (test::fresh_dir("st_raw") / "x.safetensors").string();
  write_safetensors_raw(path, f);
  const RawSafetensors g = read_safetensors_raw(path);
  EXPECT_EQ(g.metadata, f.metadata);
  ASSERT_EQ(g.tensors.size(), f.tensors.size());
  for (const auto& [name, t] : f.tensors) {
    const RawTensor& u = g.tensors.at(name);
    EXPECT_EQ(u.dtype, t.dtype) << name;
    EXPECT_EQ(u.shape, t.shape) << name;
    EXPECT_EQ(u.bytes, t.bytes) << name;
  }
  EXPECT_EQ(decode_floats(g.tensors.at("a.weight"), "a.weight")[1], -2.5f);
  EXPECT_EQ(decode_floats(g.tensors.at("e"), "e")[0], 0.1f);
}

TEST(SafetensorsRaw, HalfAndBfloatRoundToNearestEven) {
  const auto half = [](float v) {
    RawTensor t = floats("F16", {1}, {v});
    std::uint16_t h;
    std::memcpy(&h, t.bytes.data(), 2);
    return std::pair{h, decode_floats(t, "t")[0]};
  };
  EXPECT_EQ(half(1.0f).first, 0x3c00);
  EXPECT_EQ(half(-2.0f).first, 0xc000);
  EXPECT_EQ(half(65504.0f).first, 0x7bff);
  EXPECT_EQ(half(65519.0f).first, 0x7bff);  // below the midpoint to infinity
  EXPECT_EQ(half(65520.0f).first, 0x7c00);  // the midpoint rounds to even: infinity
  EXPECT_EQ(half(std::ldexp(1.0f, -24)).first, 0x0001);  // smallest subnormal
  EXPECT_EQ(half(std::ldexp(1.0f, -25)).first, 0x0000);  // a tie between 0 and it: even
  EXPECT_EQ(half(std::ldexp(3.0f, -25)).first, 0x0002);  // a tie between 1 and 2 units: even
  EXPECT_EQ(half(1.0f + std::ldexp(1.0f, -11)).first, 0x3c00);  // tie: even mantissa
  EXPECT_EQ(half(1.0f + std::ldexp(3.0f, -11)).first, 0x3c02);  // tie: even mantissa, upwards
  EXPECT_TRUE(std::isnan(half(std::numeric_limits<float>::quiet_NaN()).second));
  // Half a step: 2^-11 relative for normal halves, 2^-25 absolute for subnormal ones (below 2^-14).
  for (float v : {0.3f, -1e-5f, 1234.5f, 6.1e-5f, -3e-7f})
    EXPECT_LE(std::abs(half(v).second - v), std::max(std::abs(v) * std::ldexp(1.0f, -11), std::ldexp(1.0f, -25))) << v;

  const auto bf16 = [](float v) {
    RawTensor t = floats("BF16", {1}, {v});
    std::uint16_t h;
    std::memcpy(&h, t.bytes.data(), 2);
    return h;
  };
  EXPECT_EQ(bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie: even
  EXPECT_EQ(bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie: even, upwards
  EXPECT_EQ(bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
}

TEST(SafetensorsRaw, MalformedFilesAndWrongDtypesAreErrors) {
  const std::string dir = test::fresh_dir("st_raw_bad").string();
  const auto write = [&](const std::string& name, const std::string& header, const std::string& data) {
    const std::string path = dir + "/" + name;
    std::ofstream out(path, std::ios::binary);
    const std::uint64_t n = header.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << header << data;
    return path;
  };
  EXPECT_NE(test::error_of([&] {
              read_safetensors_raw(write("short.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"));
            }).find("truncated"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              read_safetensors_raw(write("size.st", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                                         "12345678"));
            }).find("needs 12"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { read_safetensors_raw(write("json.st", "{not json", "")); }).find("not valid JSON"),
            std::string::npos);
  // A tensor named twice: nlohmann keeps the last one silently; the reader names it.
  const std::string dup = write("dup.st",
                                R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                "12345678");
  EXPECT_NE(test::error_of([&] { read_safetensors_raw(dup); }).find(dup + ": tensor 'w' appears twice"),
            std::string::npos)
      << test::error_of([&] { read_safetensors_raw(dup); });
  const RawTensor ints{"I32", {1}, "abcd"};
  EXPECT_NE(test::error_of([&] { decode_floats(ints, "n"); }).find("'n': dtype I32"), std::string::npos);
}

}  // namespace
}  // namespace sxb
