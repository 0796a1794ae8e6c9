#include "engine/crossbar/layer_layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "engine/io/json_keys.h"
#include "kernels/tile/tile.h"
#include "kernels/common/error.h"

namespace sxb {

void LayerLayout::check(int tile_rows, int tile_cols, const std::string& context) const {
  const std::string where = fmt::format("{}: layer '{}'", context, layer);
  SXB_REQUIRE(inputs >= 1 && outputs >= 1,
              fmt::format("{}: inputs and outputs must be >= 1 (got {} x {})", where, inputs, outputs));
  SXB_REQUIRE(static_cast<long long>(inputs) * outputs <= (1LL << 31),
              fmt::format("{}: {} x {} weights is too large", where, inputs, outputs));
  // Overlaps are found among the weights the tiles hold (sorted), never with an
  // inputs x outputs map: a layout's declared size allocates nothing before the
  // model is compared with it (check_layout_for_model).
  std::vector<std::pair<std::uint64_t, std::size_t>> held;  // (k * outputs + n, tile)
  std::vector<int> seen_row(inputs, -1), seen_col(outputs, -1);
  for (std::size_t t = 0; t < tiles.size(); ++t) {
    const TilePlacement& p = tiles[t];
    const std::string tile = fmt::format("{}, tile {}", where, t);
    SXB_REQUIRE(!p.rows.empty() && !p.cols.empty(), tile + ": no rows or no columns");
    SXB_REQUIRE(static_cast<int>(p.rows.size()) <= tile_rows,
                fmt::format("{}: {} rows on a tile of {} rows", tile, p.rows.size(), tile_rows));
    SXB_REQUIRE(static_cast<int>(p.cols.size()) <= tile_cols,
                fmt::format("{}: {} columns on a tile of {} columns", tile, p.cols.size(), tile_cols));
    for (int k : p.rows) {
      SXB_REQUIRE(k >= 0 && k < inputs, fmt::format("{}: row index {} outside [0, {})", tile, k, inputs));
      SXB_REQUIRE(seen_row[k] != static_cast<int>(t), fmt::format("{}: row index {} repeated", tile, k));
      seen_row[k] = static_cast<int>(t);
    }
    for (int n : p.cols) {
      SXB_REQUIRE(n >= 0 && n < outputs, fmt::format("{}: column index {} outside [0, {})", tile, n, outputs));
      SXB_REQUIRE(seen_col[n] != static_cast<int>(t), fmt::format("{}: column index {} repeated", tile, n));
      seen_col[n] = static_cast<int>(t);
    }
    for (int k : p.rows)
      for (int n : p.cols) held.emplace_back(static_cast<std::uint64_t>(k) * outputs + n, t);
  }
  std::sort(held.begin(), held.end());
  for (std::size_t i = 1; i < held.size(); ++i)
    SXB_REQUIRE(held[i].first != held[i - 1].first,
                fmt::format("{}, tile {}: weight ({}, {}) is already held by tile {}", where, held[i].second,
                            held[i].first / outputs, held[i].first % outputs, held[i - 1].second));
}

void NetworkLayout::check(const std::string& context) const {
  SXB_REQUIRE(method == "dense" || method == "cf" || method == "xcs" || method == "xrs",
              fmt::format("{}: method '{}' is not one of dense, cf, xcs, xrs", context, method));
  SXB_REQUIRE(tile_rows >= 1 && tile_rows <= kMaxTileDim && tile_cols >= 1 && tile_cols <= kMaxTileDim,
              fmt::format("{}: tile {} x {} outside 1..{}", context, tile_rows, tile_cols, kMaxTileDim));
  for (std::size_t a = 0; a < layers.size(); ++a) {
    for (std::size_t b = 0; b < a; ++b)
      SXB_REQUIRE(layers[a].layer != layers[b].layer,
                  fmt::format("{}: layer '{}' appears twice", context, layers[a].layer));
    layers[a].check(tile_rows, tile_cols, context);
  }
}

long long NetworkLayout::crossbars() const {
  long long n = 0;
  for (const LayerLayout& l : layers) n += 2 * static_cast<long long>(l.tiles.size());
  return n;
}

const LayerLayout* NetworkLayout::find(const std::string& layer) const {
  for (const LayerLayout& l : layers)
    if (l.layer == layer) return &l;
  return nullptr;
}

LayerLayout dense_layout(const std::string& layer, int inputs, int outputs, int tile_rows, int tile_cols) {
  SXB_REQUIRE(inputs >= 1 && outputs >= 1 && tile_rows >= 1 && tile_cols >= 1,
              fmt::format("layer '{}': cannot tile {} x {} weights on {} x {} tiles", layer, inputs, outputs,
                          tile_rows, tile_cols));
  LayerLayout l{layer, inputs, outputs, {}};
  for (int r0 = 0; r0 < inputs; r0 += tile_rows)
    for (int c0 = 0; c0 < outputs; c0 += tile_cols) {
      TilePlacement p;
      for (int k = r0; k < std::min(inputs, r0 + tile_rows); ++k) p.rows.push_back(k);
      for (int n = c0; n < std::min(outputs, c0 + tile_cols); ++n) p.cols.push_back(n);
      l.tiles.push_back(std::move(p));
    }
  return l;
}

nlohmann::json to_json(const NetworkLayout& layout) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerLayout& l : layout.layers) {
    nlohmann::json tiles = nlohmann::json::array();
    for (const TilePlacement& p : l.tiles) tiles.push_back({{"rows", p.rows}, {"cols", p.cols}});
    layers.push_back({{"layer", l.layer}, {"inputs", l.inputs}, {"outputs", l.outputs}, {"tiles", tiles}});
  }
  return {{"method", layout.method},
          {"tile_rows", layout.tile_rows},
          {"tile_cols", layout.tile_cols},
          {"layers", layers}};
}

namespace {

const nlohmann::json& member(const nlohmann::json& j, const char* key, const std::string& where) {
  SXB_REQUIRE(j.is_object() && j.contains(key), fmt::format("{}: missing \"{}\"", where, key));
  return j.at(key);
}

std::string text(const nlohmann::json& j, const char* key, const std::string& where) {
  const nlohmann::json& v = member(j, key, where);
  SXB_REQUIRE(v.is_string(), fmt::format("{}: \"{}\" must be a string (got {})", where, key, v.dump()));
  return v.get<std::string>();
}

// Integers are taken only as written: 16.7 or 2^32 + 16 are errors, never 16.
int integer(const nlohmann::json& j, const char* key, const std::string& where, long long lo, long long hi) {
  return static_cast<int>(json_integer(member(j, key, where), lo, hi, fmt::format("{}: \"{}\"", where, key)));
}

const nlohmann::json& list(const nlohmann::json& j, const char* key, const std::string& where) {
  const nlohmann::json& v = member(j, key, where);
  SXB_REQUIRE(v.is_array(), fmt::format("{}: \"{}\" must be a list (got {})", where, key, v.type_name()));
  return v;
}

// Indices of a tile: integers as written (the range [0, n) is LayerLayout::check's).
std::vector<int> indices(const nlohmann::json& j, const char* key, const std::string& where) {
  const nlohmann::json& v = list(j, key, where);
  std::vector<int> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    out.push_back(static_cast<int>(
        json_integer(v[i], 0, std::numeric_limits<int>::max(), fmt::format("{}.{}[{}]", where, key, i))));
  return out;
}

// The largest layer a layout may describe: K x N <= 2^31 (2.1 G weights).
constexpr long long kMaxLayerSide = 1LL << 31;

}  // namespace

NetworkLayout network_layout_from_json(const nlohmann::json& j, const std::string& context) {
  SXB_REQUIRE(j.is_object(), context + ": a layout must be a JSON object");
  NetworkLayout out;
  out.method = text(j, "method", context);
  out.tile_rows = integer(j, "tile_rows", context, 1, kMaxTileDim);
  out.tile_cols = integer(j, "tile_cols", context, 1, kMaxTileDim);
  const nlohmann::json& layers = list(j, "layers", context);
  for (std::size_t a = 0; a < layers.size(); ++a) {
    const std::string where = fmt::format("{}: layers[{}]", context, a);
    LayerLayout l;
    l.layer = text(layers[a], "layer", where);
    l.inputs = integer(layers[a], "inputs", where, 1, std::numeric_limits<int>::max());
    l.outputs = integer(layers[a], "outputs", where, 1, std::numeric_limits<int>::max());
    SXB_REQUIRE(static_cast<long long>(l.inputs) * l.outputs <= kMaxLayerSide,
                fmt::format("{}: {} x {} weights is too large", where, l.inputs, l.outputs));
    const nlohmann::json& tiles = list(layers[a], "tiles", where);
    for (std::size_t t = 0; t < tiles.size(); ++t) {
      const std::string tw = fmt::format("{}.tiles[{}]", where, t);
      l.tiles.push_back({indices(tiles[t], "rows", tw), indices(tiles[t], "cols", tw)});
    }
    out.layers.push_back(std::move(l));
  }
  out.check(context);
  return out;
}

}  // namespace sxb
