#include "engine/studies/sweep.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include "engine/io/content_hash.h"
#include "engine/io/json_file.h"
#include "engine/io/json_keys.h"
#include "engine/training/train.h"
#include "engine/crossbar/wct.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

using json = nlohmann::json;

// Keys of the settings structs that a sweep point sets itself.
void reject_point_keys(const json& block, const std::string& path, std::initializer_list<const char*> keys) {
  if (!block.is_object()) return;  // Keys names the type error
  for (const char* key : keys)
    SXB_REQUIRE(!block.contains(key), fmt::format("{}.{}: unknown key (a point's model, width, classes, data and "
                                                  "weights are top-level keys)", path, key));
}

// The keys of `all` except `skip`; `always` are written as they are, the
// others only when they differ from `defaults` (see SweepPointConfig::to_json).
json settings_id_json(const json& all, const json& defaults, std::initializer_list<const char*> always,
                      std::initializer_list<const char*> skip) {
  json j = json::object();
  for (const auto& item : all.items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture one
    const json& value = item.value();
    const auto is = [&key](std::initializer_list<const char*> list) {
      return std::any_of(list.begin(), list.end(), [&key](const char* k) { return key == k; });
    };
    if (is(skip)) continue;
    if (is(always) || !defaults.contains(key) || defaults[key] != value) j[key] = value;
  }
  return j;
}

RearrangeOptions rearrange_from_json(const json& given) {
  RearrangeOptions r;
  const json j = given.is_string() ? json{{"policy", given}} : given;  // "sort" short for {"policy": "sort"}
  Keys k(j, "rearrange");
  std::string policy = "none";
  k.text("policy", policy);
  r.policy = parse_rearrange_policy(policy, k.where("policy"));
  k.number("budget_seconds", r.budget_seconds);
  k.integer("rounds", r.rounds, 0, 1 << 30);
  k.integer("seed", r.seed);
  k.number("extra", r.extra);
  k.done();
  SXB_REQUIRE(r.budget_seconds >= 0.0 && r.budget_seconds <= 1e7,
              fmt::format("{} {} is not in [0, 1e7]", k.where("budget_seconds"), r.budget_seconds));
  SXB_REQUIRE(r.extra >= 0.0 && r.extra <= 100.0, fmt::format("{} {} is not in [0, 100]", k.where("extra"), r.extra));
  return r;
}

std::string file_sha256(const std::string& path, const std::string& where) {
  // A sweep names the same file many times: hash it once per (path, size, time).
  static std::map<std::string, std::string> known;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const auto time = std::filesystem::last_write_time(path, ec).time_since_epoch().count();
  const std::string full = std::filesystem::absolute(path).lexically_normal().string() + "\n" +
                           std::to_string(size) + "\n" + std::to_string(time);
  if (auto it = known.find(full); it != known.end()) return it->second;
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in.good(), fmt::format("{}: cannot open '{}'", where, path));
  ContentHash h;
  std::vector<char> buf(1 << 20);
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
    h.add(buf.data(), static_cast<std::size_t>(in.gcount()));
  return known[full] = h.hex();
}

// Sets the value at a dotted path, creating objects on the way.
void set_path(json& j, const std::string& path, const json& value, const std::string& context) {
  json* node = &j;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    SXB_REQUIRE(!part.empty(), fmt::format("{}: grid key \"{}\" has an empty part", context, path));
    if (node->is_null()) *node = json::object();
    SXB_REQUIRE(node->is_object(), fmt::format("{}: grid key \"{}\": \"{}\" is not an object in the base "
                                               "configuration", context, path, path.substr(0, start - 1)));
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  *node = value;
}

}  // namespace

TrainConfig SweepPointConfig::train_config(const std::string& out) const {
  TrainConfig t = train;
  t.model = model;
  t.width = width;
  t.classes = classes;
  t.data = data;
  t.out = out;
  return t;
}

std::string SweepPointConfig::finetune_data() const {
  return finetune_images_per_class > 0 ? fmt::format("{}#first-{}-per-class", data, finetune_images_per_class) : data;
}

PruneRunConfig SweepPointConfig::prune_config(const std::string& weights_path, const std::string& out) const {
  PruneRunConfig r = prune.value();
  r.weights = weights_path;
  r.model = model;
  r.data = finetune_data();
  r.out = out;
  return r;
}

json train_identity_json(const TrainConfig& train) {
  json j = settings_id_json(train.to_json(), TrainConfig{}.to_json(),
                            {"epochs", "batch", "lr", "momentum", "weight_decay", "schedule", "nesterov", "seed"},
                            {"model", "width", "classes", "data", "init_weights"});
  j["wct_kappa"] = train.wct_kappa;  // TrainConfig::to_json() leaves out 0
  return j;
}

json prune_identity_json(const PruneRunConfig& prune) {
  return settings_id_json(prune.to_json(), PruneRunConfig{}.to_json(),
                          {"method", "sparsity", "tile", "lambda", "lr", "finetune_lr", "wct_kappa",
                           "max_layer_sparsity", "reg_epochs", "finetune_epochs", "batch", "seed"},
                          {"weights", "model", "data"});
}

json SweepPointConfig::id_json() const {
  json j = to_json();
  j["crossbar"].erase("preset");  // the values are there
  if (!evaluation.calibrations.empty()) j["crossbar"].erase("calibration");  // the list decides
  if (j["weights"].is_object()) {  // the content hash is there, and fixes the width and classes
    j["weights"].erase("path");
    j.erase("width");
    j.erase("classes");
  }
  return j;
}

json SweepPointConfig::to_json() const {
  json j = {{"model", model}, {"width", width}, {"classes", classes}, {"data", data},
            {"eval_data", eval_data.empty() ? data : eval_data}, {"crossbar", crossbar.to_json()}};
  j["rearrange"] = rearrange.to_json();
  if (!evaluation.is_default()) j["evaluation"] = evaluation.to_json();
  if (weights.empty()) {
    j["weights"] = nullptr;
    j["train"] = train_identity_json(train);
  } else {
    j["weights"] = {{"path", weights}, {"sha256", weights_sha256}};
    j["train"] = nullptr;  // not used
  }
  j["prune"] = prune ? prune_identity_json(*prune) : json(nullptr);
  if (nonideal_finetune) j["nonideal_finetune"] = nonideal_finetune->to_json();
  if (finetune_images_per_class > 0 && (prune || nonideal_finetune))
    j["finetune_images_per_class"] = finetune_images_per_class;
  return j;
}

json NonidealFinetuneStage::to_json() const {
  return {{"epochs", epochs},
          {"lr", lr},
          {"batch", batch},
          {"resolve_every", resolve_every},
          {"variation_resample", variation_resample}};
}

NonidealFinetuneStage NonidealFinetuneStage::from_json(const json& j, const std::string& path) {
  NonidealFinetuneStage s;
  Keys k(j, path);
  k.integer("epochs", s.epochs, 1, 100000);
  k.number("lr", s.lr);
  k.integer("batch", s.batch, 1, 65536);
  k.integer("resolve_every", s.resolve_every, 1, 1 << 30);
  k.flag("variation_resample", s.variation_resample);
  k.done();
  SXB_REQUIRE(std::isfinite(s.lr) && s.lr > 0.0, fmt::format("{} must be positive (got {})", k.where("lr"), s.lr));
  return s;
}

namespace {

void read_prune(SweepPointConfig& c, const json& block) {
  reject_point_keys(block, "prune", {"weights", "model", "data"});
  const bool tile_given = block.is_object() && block.contains("tile") && !block["tile"].is_null();
  PruneRunConfig p = PruneRunConfig::from_json(block, "prune");
  SXB_REQUIRE(p.spec.per_layer || (block.contains("sparsity") && !block["sparsity"].is_null()),
              "prune.sparsity is required");
  SXB_REQUIRE(p.spec.per_layer || (p.spec.sparsity > 0.0 && p.spec.sparsity < 1.0),
              fmt::format("prune.sparsity must be in (0, 1) (got {})", p.spec.sparsity));
  if (!tile_given) {
    p.spec.tile_rows = c.crossbar.tile_rows;
    p.spec.tile_cols = c.crossbar.tile_cols;
  }
  // XCS/XRS pack the weights for one tile size; C/F models map at any.
  SXB_REQUIRE(p.spec.method == PruneMethod::ChannelFilter ||
                  (p.spec.tile_rows == c.crossbar.tile_rows && p.spec.tile_cols == c.crossbar.tile_cols),
              fmt::format("prune.tile {}x{} differs from the crossbar tile {}x{} (xcs and xrs models are packed "
                          "for the tile they were pruned at)",
                          p.spec.tile_rows, p.spec.tile_cols, c.crossbar.tile_rows, c.crossbar.tile_cols));
  if (p.finetune_lr == 0.0) p.finetune_lr = p.lr;  // 0 means lr: one spelling, one id
  c.prune = std::move(p);
  c.prune_config("dense.safetensors", "pruned").check("prune");  // what run_pruning() checks, named here
}

SweepPointConfig point_from_json(const json& j, const std::string& base_dir) {
  SweepPointConfig c;
  Keys k(j, "");
  k.text("model", c.model);
  SXB_REQUIRE(c.model == "vgg11" || c.model == "vgg16",
              fmt::format("model must be \"vgg11\" or \"vgg16\" (got \"{}\")", c.model));
  // Absent: 1.0 (or the weights' own); written, it must be a width, as train.width must.
  const bool width_given = j.is_object() && j.contains("width");
  SXB_REQUIRE(!(j.is_object() && j.contains("tile") && j["tile"].is_null()),
              "tile must be N or \"RxC\" (got null; leave it out for the default)");
  k.number("width", c.width);
  SXB_REQUIRE(c.width > 0.0 ? c.width <= nn::kMaxWidth : !width_given,
              fmt::format("width must be in (0, {}]; leave it out for the default (got {})", nn::kMaxWidth, c.width));
  k.integer("classes", c.classes, 0, 1 << 20);
  k.text("data", c.data);
  k.text("eval_data", c.eval_data);
  k.integer("finetune_images_per_class", c.finetune_images_per_class, 0, 1 << 30);
  k.text("weights", c.weights);
  json crossbar = json::object();
  if (const json* x = k.get("crossbar")) {
    SXB_REQUIRE(x->is_object(), "crossbar must be an object");
    crossbar = *x;
  }
  // "tile" (point or crossbar) is a short form of tile_rows/tile_cols.
  const json* crossbar_tile = crossbar.contains("tile") ? &crossbar["tile"] : nullptr;
  for (const json* tile : {crossbar_tile, k.get("tile")}) {
    if (!tile) continue;
    SXB_REQUIRE(!tile->is_null(), fmt::format("{} must be N or \"RxC\" (got null; leave it out for the default)",
                                              tile == crossbar_tile ? "crossbar.tile" : "tile"));
    int rows = 0, cols = 0;
    tile_value(*tile, rows, cols, tile == crossbar_tile ? "crossbar.tile" : "tile");
    crossbar["tile_rows"] = rows;
    crossbar["tile_cols"] = cols;
  }
  crossbar.erase("tile");
  c.crossbar = crossbar_config_from_json(crossbar, "crossbar");
  if (const json* x = k.get("train")) {
    reject_point_keys(*x, "train", {"model", "width", "classes", "data", "init_weights"});
    c.train = TrainConfig::from_json(*x, "train");
  }
  if (const json* x = k.get("prune")) read_prune(c, *x);
  if (const json* x = k.get("rearrange")) c.rearrange = rearrange_from_json(*x);
  if (const json* x = k.get("evaluation")) c.evaluation = EvaluationSettings::from_json(*x, "evaluation");
  if (const json* x = k.get("nonideal_finetune"); x && !x->is_null())
    c.nonideal_finetune = NonidealFinetuneStage::from_json(*x);
  k.done();

  if (c.weights.empty()) {
    if (c.width == 0.0) c.width = 1.0;
    c.train_config("sweep.safetensors").check("train");  // what train() checks, named here
  } else {
    std::filesystem::path p(c.weights);
    if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
    c.weights = std::filesystem::absolute(p).lexically_normal().string();
    c.weights_sha256 = file_sha256(c.weights, "weights");
  }
  return c;
}

}  // namespace

SweepPointConfig sweep_point_from_json(const json& j, const std::string& context, const std::string& base_dir) {
  try {
    return point_from_json(j, base_dir);
  } catch (const Error& e) {
    throw Error(context.empty() ? std::string(e.what()) : fmt::format("{}: {}", context, e.what()));
  }
}

namespace {

// The name makes the default results folder (sweep-<name>) and record names:
// letters, digits, '.', '_' and '-', not starting with '.', so it stays one
// folder name ("../../x" would write outside the results folder).
void check_sweep_name(const std::string& name, const std::string& context) {
  const bool plain = !name.empty() && name.size() <= 200 && name[0] != '.' &&
                     name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                         std::string::npos;
  SXB_REQUIRE(plain, fmt::format("{}: \"name\" '{}' must be letters, digits, '.', '_' and '-' (not starting with "
                                 "'.'), at most 200 characters",
                                 context, name));
}

SweepGrid grid_from_json(const nlohmann::ordered_json& value, const std::string& where) {
  SXB_REQUIRE(value.is_object(), where + " must be an object of lists");
  SweepGrid grid;
  for (const auto& [gk, gv] : value.items()) {
    SXB_REQUIRE(gv.is_array() && !gv.empty(), fmt::format("{} \"{}\" must be a non-empty list of values", where, gk));
    std::vector<json> values;
    for (const auto& v : gv) values.push_back(json::parse(v.dump()));
    grid.emplace_back(gk, std::move(values));
  }
  return grid;
}

// The file's base with a block's "base" merged over it, key by key (objects recursively).
void merge_into(json& base, const json& over) {
  for (const auto& [key, value] : over.items()) {
    if (value.is_object() && base.contains(key) && base[key].is_object()) merge_into(base[key], value);
    else base[key] = value;
  }
}

}  // namespace

Sweep sweep_from_json(const nlohmann::ordered_json& j, const std::string& context, const std::string& base_dir) {
  SXB_REQUIRE(j.is_object(), context + ": a sweep must be a JSON object with \"base\" and \"grid\"");
  Sweep s;
  std::vector<json> block_bases;
  for (const auto& [key, value] : j.items()) {
    if (key == "name") {
      SXB_REQUIRE(value.is_string(), context + ": \"name\" must be a string");
      s.name = value.get<std::string>();
      check_sweep_name(s.name, context);
    } else if (key == "base") {
      SXB_REQUIRE(value.is_object(), context + ": \"base\" must be an object");
      s.base = json::parse(value.dump());
    } else if (key == "grid" && value.is_array()) {
      SXB_REQUIRE(!value.empty(), context + ": \"grid\" must be an object of lists or a non-empty list of them");
      for (std::size_t b = 0; b < value.size(); ++b) {
        const std::string where = fmt::format("{}: grid block {}", context, b);
        SXB_REQUIRE(value[b].is_object(), where + " must be an object of lists");
        nlohmann::ordered_json block = value[b];
        json block_base = json::object();
        if (block.contains("base")) {
          SXB_REQUIRE(block["base"].is_object(), where + ": \"base\" must be an object");
          block_base = json::parse(block["base"].dump());
          block.erase("base");
        }
        s.blocks.push_back(grid_from_json(block, where));
        block_bases.push_back(std::move(block_base));
      }
    } else if (key == "grid") {
      s.blocks.push_back(grid_from_json(value, context + ": grid"));
      block_bases.push_back(json::object());
    } else {
      throw Error(fmt::format("{}: \"{}\": unknown key (a sweep has \"name\", \"base\" and \"grid\")", context, key));
    }
  }
  if (s.base.is_null()) s.base = json::object();
  if (s.blocks.empty()) {  // no grid: the base alone
    s.blocks.emplace_back();
    block_bases.push_back(json::object());
  }
  for (const SweepGrid& block : s.blocks)
    for (const auto& entry : block) {  // not a structured binding: clang 14 cannot capture one
      const std::string& key = entry.first;
      auto it = std::find_if(s.grid.begin(), s.grid.end(), [&key](const auto& g) { return g.first == key; });
      if (it == s.grid.end()) it = s.grid.insert(s.grid.end(), {key, {}});
      for (const json& v : entry.second)
        if (std::find(it->second.begin(), it->second.end(), v) == it->second.end()) it->second.push_back(v);
    }
  std::size_t total = 0;
  for (const SweepGrid& block : s.blocks) {
    std::size_t n = 1;
    for (const auto& [key, values] : block) {
      n *= values.size();
      SXB_REQUIRE(n <= 1000000, context + ": the grid has more than 1,000,000 points");
    }
    total += n;
    SXB_REQUIRE(total <= 1000000, context + ": the grid has more than 1,000,000 points");
  }
  std::map<std::string, std::size_t> seen;
  std::size_t index = 0;
  for (std::size_t b = 0; b < s.blocks.size(); ++b) {
    const SweepGrid& block = s.blocks[b];
    json base = s.base;
    merge_into(base, block_bases[b]);
    std::size_t count = 1;
    for (const auto& [key, values] : block) count *= values.size();
    for (std::size_t local = 0; local < count; ++local, ++index) {
      SweepPoint p;
      p.index = index;
      json config = base;
      std::size_t rest = local;
      std::vector<std::pair<std::string, json>> assignments(block.size());
      for (std::size_t g = block.size(); g-- > 0;) {  // the last key varies fastest
        const auto& [key, values] = block[g];
        assignments[g] = {key, values[rest % values.size()]};
        rest /= values.size();
      }
      for (const auto& [key, value] : assignments) {
        set_path(config, key, value, context);
        p.varied[key] = value;
      }
      p.config = sweep_point_from_json(config, fmt::format("{}: point {} ({})", context, index, p.varied.dump()),
                                       base_dir);
      p.id = short_hash(p.config.id_json().dump());
      const auto [it, fresh] = seen.emplace(p.id, index);
      SXB_REQUIRE(fresh, fmt::format("{}: points {} and {} are the same configuration (a grid key has no effect, or "
                                     "two blocks hold the same point)",
                                     context, it->second, index));
      s.points.push_back(std::move(p));
    }
  }
  return s;
}

Sweep read_sweep(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SXB_REQUIRE(in.good(), fmt::format("cannot open the sweep file '{}'", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Depth-limited: the expansion below copies values recursively.
  const nlohmann::ordered_json j = parse_ordered_json_text(text, path);
  Sweep s = sweep_from_json(j, path, std::filesystem::path(path).parent_path().string());
  s.path = path;
  if (s.name.empty()) s.name = std::filesystem::path(path).stem().string();
  return s;
}

std::string Shard::name() const { return claim ? label : fmt::format("{}-of-{}", k, n); }

Shard parse_shard(const std::string& text) {
  const auto env = [](const char* name) -> std::optional<long long> {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    char* end = nullptr;
    const long long x = std::strtoll(v, &end, 10);
    return *end ? std::nullopt : std::optional<long long>(x);
  };
  Shard s;
  long long k = 0, n = 1;
  if (text == "claim") {
    char host[128] = "";
    ::gethostname(host, sizeof host - 1);
    s.claim = true;
    s.label = fmt::format("claim-{}-{}", host, ::getpid());
    return s;
  }
  if (text == "auto") {
    if (auto id = env("SLURM_ARRAY_TASK_ID"); id) {
      const auto job = env("SLURM_ARRAY_JOB_ID") ? env("SLURM_ARRAY_JOB_ID") : env("SLURM_JOB_ID");
      s.claim = true;
      s.label = fmt::format("slurm-{}-{}", job.value_or(0), *id);
      return s;
    } else if (auto r = env("OMPI_COMM_WORLD_RANK"), size = env("OMPI_COMM_WORLD_SIZE"); r && size) {
      k = *r, n = *size;
    } else if (auto r2 = env("PMI_RANK"), size2 = env("PMI_SIZE"); r2 && size2) {
      k = *r2, n = *size2;
    } else if (auto r3 = env("SLURM_PROCID"), size3 = env("SLURM_NTASKS"); r3 && size3) {
      k = *r3, n = *size3;
    }
    SXB_REQUIRE(n >= 1 && k >= 0 && k < n,
                Message{Key{"shard"}, fmt::format(" auto: the environment gives shard {} of {} (need 0 <= k < N)", k, n)});
  } else {
    const std::size_t slash = text.find('/');
    const Message bad{Key{"shard"}, fmt::format(" '{}': expected k/N with 0 <= k < N, or auto", text)};
    try {
      std::size_t a = 0, b = 0;
      SXB_REQUIRE(slash != std::string::npos, bad);
      k = std::stoll(text.substr(0, slash), &a);
      n = std::stoll(text.substr(slash + 1), &b);
      SXB_REQUIRE(a == slash && b == text.size() - slash - 1, bad);
    } catch (const std::logic_error&) {
      throw Error(bad);
    }
    SXB_REQUIRE(n >= 1 && n <= 1000000 && k >= 0 && k < n, bad);
  }
  s.k = static_cast<int>(k);
  s.n = static_cast<int>(n);
  return s;
}

}  // namespace sxb
