// Numbers in the JSON inputs are taken as written or refused: layout files,
// crossbar configurations (and --set), tile files; JSON files that cannot be
// read name the file whatever nlohmann reports.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <fstream>
#include <string>

#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/tile_json.h"
#include "engine/io/json_file.h"
#include "engine/io/json_keys.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

using nlohmann::json;
using test::error_of;

json layout_json() {
  return json::parse(R"({"method": "xcs", "tile_rows": 4, "tile_cols": 4,
    "layers": [{"layer": "features.0", "inputs": 8, "outputs": 8,
                "tiles": [{"rows": [0, 1, 2, 3], "cols": [5, 1]}, {"rows": [4, 5], "cols": [0]}]}]})");
}

std::string layout_error(const json& j) {
  return error_of([&] { network_layout_from_json(j, "l.json"); });
}

TEST(StrictJson, IntegersAreNeverCoerced) {
  EXPECT_EQ(json_integer(json(16), 1, 1024, "k"), 16);
  EXPECT_NE(error_of([] { json_integer(json(16.7), 1, 1024, "k"); }).find("k must be an integer in [1, 1024] (got 16.7)"),
            std::string::npos);
  EXPECT_NE(error_of([] { json_integer(json((1ULL << 32) + 16), 1, 1024, "k"); }).find("got 4294967312"),
            std::string::npos);
  EXPECT_NE(error_of([] { json_integer(json(18446744073709551615ULL), 0, 5, "k"); }).find("got 18446744073709551615"),
            std::string::npos);
  EXPECT_NE(error_of([] { json_integer(json(-1), 0, 5, "k"); }).find("got -1"), std::string::npos);
  EXPECT_NE(error_of([] { json_real(json("x"), "r"); }).find("r must be a number"), std::string::npos);
  EXPECT_NE(error_of([] { json_real(json(-1.0), "r", 0.0); }).find("r must be a finite number >= 0"),
            std::string::npos);
}

TEST(StrictJson, LayoutIntegersAndIndices) {
  EXPECT_EQ(layout_error(layout_json()), "");
  json j = layout_json();
  j["tile_rows"] = (1ULL << 32) + 16;  // was read as 16
  EXPECT_NE(layout_error(j).find("l.json: \"tile_rows\" must be an integer in [1, 1024] (got 4294967312)"),
            std::string::npos)
      << layout_error(j);
  j = layout_json();
  j["tile_cols"] = 16.7;  // was read as 16
  EXPECT_NE(layout_error(j).find("\"tile_cols\" must be an integer"), std::string::npos) << layout_error(j);
  j = layout_json();
  j["layers"][0]["tiles"][1]["rows"][0] = (1ULL << 32) + 4;  // was read as row 4
  EXPECT_NE(layout_error(j).find("layers[0].tiles[1].rows[0] must be an integer in [0, 2147483647] (got 4294967300)"),
            std::string::npos)
      << layout_error(j);
  j = layout_json();
  j["layers"][0]["inputs"] = 8.5;
  EXPECT_NE(layout_error(j).find("\"inputs\" must be an integer"), std::string::npos) << layout_error(j);
  j = layout_json();
  j["layers"][0]["tiles"][1]["cols"][0] = 5;  // (4, 5)? no: rows 4,5 x col 5 overlaps nothing; (0..3) x 5 is tile 0
  j["layers"][0]["tiles"][1]["rows"][0] = 3;  // (3, 5) is held by tile 0 already
  EXPECT_NE(layout_error(j).find("tile 1: weight (3, 5) is already held by tile 0"), std::string::npos)
      << layout_error(j);
}

TEST(StrictJson, AHugeDeclaredLayerAllocatesNothingUpFront) {
  json j = layout_json();
  j["layers"][0]["inputs"] = 46000;
  j["layers"][0]["outputs"] = 46000;  // 2.1 G weights: an inputs x outputs map would take 2.1 GB
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  EXPECT_EQ(layout_error(j), "");  // a well-formed layout: the model check rejects it later
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 100 * 1024) << "KiB of peak memory";
  j["layers"][0]["inputs"] = 3'000'000;  // 3e6 x 46000 > 2^31 weights
  EXPECT_NE(layout_error(j).find("3000000 x 46000 weights is too large"), std::string::npos) << layout_error(j);
}

// The guard before any output is written: the path of the first inf or NaN.
TEST(StrictJson, FirstNonFiniteNamesThePath) {
  json j = {{"a", 1.0}, {"layers", json::array({{{"gain", 0.5}}, {{"gain", {{"mean", 1.0}, {"max", 2.0}}}}})}};
  EXPECT_EQ(first_non_finite(j), "");
  j["layers"][1]["gain"]["max"] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(first_non_finite(j), "layers[1].gain.max");
  EXPECT_EQ(first_non_finite(json::array({1.0, std::nan("")})), "[1]");
  EXPECT_EQ(first_non_finite(json{{"x", std::nan("")}}), "x");
}

TEST(StrictJson, CrossbarConfigNumbers) {
  const auto config_error = [](const json& j) { return error_of([&] { crossbar_config_from_json(j, "x.json"); }); };
  EXPECT_NE(config_error({{"tile_rows", 18446744073709551615ULL}}).find("\"tile_rows\" must be an integer in [1, 1024] "
                                                                        "(got 18446744073709551615)"),
            std::string::npos);
  EXPECT_NE(config_error({{"tile_cols", 16.5}}).find("\"tile_cols\" must be an integer"), std::string::npos);
  EXPECT_NE(config_error({{"levels", 1ULL << 40}}).find("(got 1099511627776)"), std::string::npos);
  EXPECT_NE(config_error({{"seed", -1}}).find("\"seed\" must be an integer in [0, 9223372036854775807]"),
            std::string::npos);
  EXPECT_NE(config_error({{"r_wire", -2}}).find("r_wire_row = -2"), std::string::npos) << config_error({{"r_wire", -2}});
  // Finite but outside what the solver computes: named, not "not positive definite" or inf gains.
  EXPECT_NE(config_error({{"r_on", 1e-300}}).find("r_on = 1e-300 ohm is below 0.001 ohm"), std::string::npos)
      << config_error({{"r_on", 1e-300}});
  EXPECT_NE(config_error({{"r_wire", 1e308}}).find("r_wire_row = 1e+308 ohm is above 1e+15 ohm"), std::string::npos)
      << config_error({{"r_wire", 1e308}});
  EXPECT_NE(config_error({{"r_off", 1e300}}).find("r_off = 1e+300 ohm is above"), std::string::npos);
  EXPECT_EQ(config_error({{"r_wire", 1e6}, {"r_on", 1.0}}), "");
  CrossbarConfig c;
  EXPECT_NE(error_of([&] { apply_setting(c, "r_on=1e999"); }).find("1e999 is too large for a number"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_setting(c, "tile_rows=64.5"); }).find("\"tile_rows\" must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_setting(c, "levels=-3"); }).find("\"levels\" must be an integer"), std::string::npos);
  apply_setting(c, "tile_rows=32");
  EXPECT_EQ(c.tile_rows, 32);
  int r = 0, cc = 0;
  for (const char* bad : {" 64", "+64", "1e3", "64.5", "32x 64", "64x", "x64"})
    EXPECT_NE(error_of([&] { parse_tile_size(bad, r, cc, "--tile"); }).find("expected N or RxC"), std::string::npos)
        << bad;
  EXPECT_NE(error_of([&] { parse_tile_size("99999999999", r, cc, "--tile"); }).find("tile sides must be in 1..1024"),
            std::string::npos);
  parse_tile_size("16x8", r, cc, "--tile");
  EXPECT_EQ(r * 100 + cc, 1608);
}

TEST(StrictJson, TileFileNumbers) {
  const auto tile_error = [](const json& j) { return error_of([&] { parse_tile_problem(j, "t.json"); }); };
  const json ok = json::parse(R"({"rows": 1, "cols": 2, "conductance": [[1e-5, 2e-5]]})");
  EXPECT_EQ(tile_error(ok), "");
  json j = ok;
  j["rows"] = 18446744073709551615ULL;  // was reported as rows = -1
  EXPECT_NE(tile_error(j).find("t.json: rows must be an integer in [1, "), std::string::npos) << tile_error(j);
  j = ok;
  j["cols"] = 2.5;  // 2.0 is 2; a fraction is never truncated
  EXPECT_NE(tile_error(j).find("t.json: cols must be an integer"), std::string::npos) << tile_error(j);
  j = ok;
  j["r_source"] = -5;
  EXPECT_NE(tile_error(j).find("r_source = -5"), std::string::npos) << tile_error(j);
}

TEST(StrictJson, UnreadableJsonFilesNameTheFile) {
  const std::filesystem::path dir = test::fresh_dir("strict-json");
  std::ofstream(dir / "big.json") << R"({"rows": 1e400})";
  std::string msg = error_of([&] { read_tile_problem((dir / "big.json").string()); });
  EXPECT_NE(msg.find("big.json: not valid JSON"), std::string::npos) << msg;  // was an "internal error"
  EXPECT_NE(msg.find("1e400"), std::string::npos) << msg;
  msg = error_of([&] { read_json_file(dir.string(), "the layout file"); });
  EXPECT_NE(msg.find(dir.string() + ": is a folder, expected the layout file"), std::string::npos) << msg;
  msg = error_of([&] { read_json_file((dir / "absent.json").string(), "the layout file"); });
  EXPECT_NE(msg.find("absent.json: cannot open the layout file (No such file or directory)"), std::string::npos)
      << msg;
}

}  // namespace
}  // namespace sxb
