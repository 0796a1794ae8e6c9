// The tile JSON format of `sparsexbar tile`: parsing, errors, output.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "engine/crossbar/tile_json.h"
#include "engine/crossbar/tile_solver.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

using nlohmann::json;

json valid() {
  return json::parse(R"({"rows": 2, "cols": 3,
    "conductance": [[1e-5, 2e-5, 3e-5], [4e-5, 5e-5, 6e-5]],
    "r_source": 500, "r_sink": 100, "r_wire_row": 2.5, "r_wire_col": 2.5,
    "voltages": [[0.3, 0.3], [0.1, 0.0], [0.0, 0.2]], "backend": "cpu"})");
}

std::string error_of(const json& j) {
  try {
    parse_tile_problem(j, "t.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TileJson, ParsesAllFields) {
  const TileProblem p = parse_tile_problem(valid(), "t.json");
  EXPECT_EQ(p.tile.rows(), 2);
  EXPECT_EQ(p.tile.cols(), 3);
  EXPECT_EQ(p.tile.conductance()[4], 5e-5);
  EXPECT_EQ(p.voltages.size(), 6u);
  EXPECT_EQ(p.backend, Backend::Cpu);
}

TEST(TileJson, MissingResistancesTakeTheDocumentedDefaults) {
  json j = valid();
  j.erase("r_source");
  j.erase("r_wire_col");
  const TileProblem p = parse_tile_problem(j, "t.json");
  EXPECT_EQ(p.tile.res().r_source, TileResistances{}.r_source);
  EXPECT_EQ(p.tile.res().r_wire_col, TileResistances{}.r_wire_col);
}

TEST(TileJson, ErrorsNameFileAndField) {
  struct Case {
    const char* pointer;
    json value;
    const char* needle;
  } cases[] = {
      {"/conductance/1", json::array({1e-5, 2e-5}), "conductance[1]: has 2 values, expected 3"},
      {"/conductance/0/2", -1e-5, "conductance[0][2]"},
      {"/conductance/0/1", "x", "conductance[0][1] must be a number (got \"x\")"},
      {"/voltages/1", json::array({0.1}), "voltages[1]: has 1 values, expected 2"},
      {"/r_sink", -5, "r_sink"},
      {"/r_wire_row", "thin", "r_wire_row must be a number (got \"thin\")"},
      {"/rows", 0, "rows must be an integer in [1, 1024] (got 0)"},
      {"/cols", 2.5, "cols must be an integer"},
      {"/backend", "tpu", "backend: unknown backend 'tpu'"},
      {"/colour", 1, "unknown field 'colour'"},
  };
  for (const Case& c : cases) {
    json j = valid();
    j[json::json_pointer(c.pointer)] = c.value;
    const std::string msg = error_of(j);
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.pointer << " -> '" << msg << "'";
    EXPECT_EQ(msg.rfind("t.json", 0), 0u) << msg;
  }
  json j = valid();
  j.erase("conductance");
  EXPECT_NE(error_of(j).find("missing field 'conductance'"), std::string::npos);
  j = valid();
  j["conductance"].push_back(json::array({1e-5, 1e-5, 1e-5}));
  EXPECT_NE(error_of(j).find("has 3 rows, expected 2"), std::string::npos);
}

TEST(TileJson, TruncatedFileIsAClearError) {
  const std::string path = testing::TempDir() + "/truncated_tile.json";
  std::ofstream(path) << valid().dump().substr(0, 40);
  try {
    read_tile_problem(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_tile_problem(path + ".absent"), Error);
}

TEST(TileJson, OutputHasCurrentsIdealTransferAndNfAtFullPrecision) {
  const TileProblem p = parse_tile_problem(valid(), "t.json");
  const json out = solve_tile_problem(p, {true, true});
  ASSERT_EQ(out["currents"].size(), 3u);
  ASSERT_EQ(out["currents"][0].size(), 3u);
  ASSERT_EQ(out["transfer"].size(), 3u);     // cols lists
  ASSERT_EQ(out["transfer"][0].size(), 2u);  // of rows numbers
  EXPECT_EQ(out["nf"]["per_column"].size(), 3u);
  const auto I = tile_currents(p.view(), p.voltages, Backend::Cpu);
  // Round trip through text loses nothing.
  const json back = json::parse(out.dump());
  EXPECT_EQ(back["currents"][1][2].get<double>(), I[1 * 3 + 2]);
  // Ideal currents are g^T v; non-ideal ones are smaller for positive inputs.
  EXPECT_DOUBLE_EQ(out["ideal_currents"][0][0].get<double>(), 0.3 * (1e-5 + 4e-5));
  for (int j = 0; j < 3; ++j) {
    EXPECT_GT(out["currents"][0][j].get<double>(), 0.0);
    EXPECT_LT(out["currents"][0][j].get<double>(), out["ideal_currents"][0][j].get<double>());
  }
}

}  // namespace
}  // namespace sxb
