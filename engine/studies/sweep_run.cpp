#include "engine/studies/sweep_run.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "engine/data/dataset.h"
#include "engine/io/content_hash.h"
#include "engine/evaluation/model_evaluation.h"
#include "engine/io/json_file.h"
#include "engine/crossbar/layout_file.h"
#include "engine/pruning/pruning.h"
#include "engine/pruning/pruning_run.h"
#include "engine/studies/model_store.h"
#include "engine/studies/sweep_results.h"
#include "engine/training/train.h"
#include "engine/crossbar/wct.h"
#include "engine/io/stopwatch.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;


json grid_keys(const Sweep& s) {  // "varied" loses the grid's order in a JSON object
  json keys = json::array();
  for (const auto& [key, values] : s.grid) keys.push_back(key);
  return keys;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string duration_text(double s) {
  return s < 90 ? fmt::format("{:.0f} s", s) : s < 5400 ? fmt::format("{:.0f} min", s / 60) : fmt::format("{:.1f} h", s / 3600);
}

class Runner {
 public:
  explicit Runner(const SweepRunOptions& o)
      : o_(o),
        backend_(nn::make_backend(o.device)),
        store_(o.cache_dir, o.stop_requested, o.log) {}

  json run_point(const Sweep& sweep, const SweepPoint& p, bool& interrupted);

 private:
  void log(const std::string& line) const {
    if (o_.log) o_.log(line);
  }
  TrainHooks hooks() const {
    TrainHooks h;
    h.stop_requested = o_.stop_requested;
    h.log = [this](const std::string& line) { log("  " + line); };  // nothing without o.log
    return h;
  }
  const Dataset& data(const std::string& spec, Split split) {
    const std::string key = spec + (split == Split::Train ? "#train" : "#test");
    auto it = data_.find(key);
    if (it == data_.end()) it = data_.emplace(key, load_dataset(resolve_data_spec(spec, o_.data_root), split)).first;
    return it->second;
  }
  // The training data of the pruning and nonideal_finetune phases.
  const Dataset& finetune_data(const SweepPointConfig& c) {
    if (c.finetune_images_per_class == 0) return data(c.data, Split::Train);
    auto it = data_.find(c.finetune_data());
    if (it == data_.end())
      it = data_.emplace(c.finetune_data(), first_per_class(data(c.data, Split::Train), c.finetune_images_per_class)).first;
    return it->second;
  }
  // Models made on another engine differ in their last bits: their own cache names.
  json engine() const { return backend_->name() == "cpu" ? json(nullptr) : json(backend_->name()); }
  StoredModel dense_model(const SweepPointConfig& c);
  StoredModel tuned_model(const SweepPointConfig& c, const StoredModel& base, const std::string& layout);

  const SweepRunOptions& o_;
  std::unique_ptr<nn::Backend> backend_;
  ModelStore store_;
  std::map<std::string, Dataset> data_;
  // The software evaluation of the last (model, test data): consecutive points
  // that differ only in the crossbar share it.
  SoftwareMemo software_;
};

StoredModel Runner::dense_model(const SweepPointConfig& c) {
  if (!c.weights.empty()) {
    StoredModel given;
    given.path = c.weights;
    given.identity = {{"weights_sha256", c.weights_sha256}};
    return given;
  }
  return store_.trained(c.train_config(""), train_identity_json(c.train), engine(), data(c.data, Split::Train),
                        data(c.data, Split::Test), *backend_, hooks());
}

// The nonideal_finetune stage: `base` fine-tuned through the point's crossbar,
// on the packed `layout` (its masks held) or, for a C/F model, dense tiles
// with its zeros held; a WCT model keeps its clamp.
StoredModel Runner::tuned_model(const SweepPointConfig& c, const StoredModel& base, const std::string& layout) {
  const NonidealFinetuneStage& stage = *c.nonideal_finetune;
  const SafetensorsFile file = read_safetensors(base.path);
  const nn::VggConfig model = nn::vgg_config_for_file(file, base.path, {c.model, std::nullopt, std::nullopt}, true);
  TrainConfig t;
  t.model = c.model;
  t.width = model.width;
  t.classes = model.classes;
  t.data = c.finetune_data();
  t.epochs = stage.epochs;
  t.lr = stage.lr;
  t.batch = stage.batch;
  if (const std::optional<WctScales> wct = read_wct_metadata(file, base.path)) t.wct_kappa = wct->kappa;
  NonidealSettings s;
  s.crossbar = c.crossbar;
  s.resolve_every = stage.resolve_every;
  s.variation_resample = stage.variation_resample;
  s.solver = o_.backend;
  if (!layout.empty()) s.layout = read_layout_file(layout);
  s.mask_zeros = c.prune.has_value() && layout.empty();
  TrainHooks h = hooks();
  if (s.layout) h.on_model = [&s](nn::Vgg& m) { set_masks(m, *s.layout); };
  json crossbar = c.crossbar.to_json();
  crossbar.erase("preset");
  const json id = {{"stage", stage.to_json()}, {"crossbar", crossbar}};
  return store_.tuned(t, s, base, id, engine(), finetune_data(c), data(c.data, Split::Test), *backend_, h);
}

json Runner::run_point(const Sweep& sweep, const SweepPoint& p, bool& interrupted) {
  const Clock::time_point t0 = Clock::now();
  const SweepPointConfig& c = p.config;
  const json point = c.to_json();
  const StoredModel dense = dense_model(c);
  if ((interrupted = dense.interrupted)) return {};
  std::optional<StoredModel> pruned;
  if (c.prune) {
    pruned = store_.pruned(c.prune_config(dense.path, ""), dense, prune_identity_json(*c.prune), engine(),
                           finetune_data(c), data(c.data, Split::Test), *backend_, hooks());
    if ((interrupted = pruned->interrupted)) return {};
  }

  const StoredModel& base = pruned ? *pruned : dense;
  const std::string layout =
      c.prune && c.prune->spec.method != PruneMethod::ChannelFilter ? layout_path(base.path) : "";  // packed tiles
  std::optional<StoredModel> tuned;
  if (c.nonideal_finetune) {
    tuned = tuned_model(c, base, layout);
    if ((interrupted = tuned->interrupted)) return {};
  }

  const Clock::time_point te = Clock::now();
  const std::string& weights = tuned ? tuned->path : base.path;
  ModelEvalRequest request;
  request.weights = weights;
  request.model = {c.model, std::nullopt, std::nullopt};
  if (c.width > 0) request.model.width = c.width;
  if (c.classes > 0) request.model.classes = c.classes;
  request.layout = layout;
  request.unpruned = dense.path;
  CrossbarEvalOptions& eo = request.options;
  eo.crossbar = c.crossbar;
  eo.backend = o_.backend;
  eo.sparse = o_.sparse;
  eo.rearrange = c.rearrange;
  eo.evaluation = c.evaluation;
  eo.cache_dir = o_.weff_cache ? o_.cache_dir : "";
  eo.data_source = c.eval_data.empty() ? c.data : c.eval_data;
  if (c.evaluation.bn_recalibrate > 0 || c.crossbar.tile_level()) eo.bn_train = &data(eo.data_source, Split::Train);
  const CrossbarEvalResult r = evaluate_model_file(request, *backend_, data(eo.data_source, Split::Test), &software_);

  json models = {{"dense", dense.path}, {"pruned", pruned ? json(pruned->path) : json(nullptr)}};
  if (tuned) models["tuned"] = tuned->path;
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  return {{"id", p.id},
          {"index", p.index},
          {"sweep", sweep.name},
          {"varied", json::parse(p.varied.dump())},
          {"grid_keys", grid_keys(sweep)},
          {"config", point},
          {"models", models},
          {"pruning", pruned ? pruned->summary : json(nullptr)},
          {"report", to_json(r.report)},
          {"seconds",
           {{"train", dense.seconds}, {"prune", pruned ? pruned->seconds : 0.0},
            {"nonideal_finetune", tuned ? tuned->seconds : 0.0}, {"evaluate", seconds_since(te)},
            {"total", seconds_since(t0)}}},
          {"shard", o_.shard.name()},
          {"host", host},
          {"finished", utc_now()}};
}

// The claim of one point by a claiming runner: an exclusive flock on
// <out>/claims/<id>.lock, held while the point runs and released by the OS
// when the runner ends in any way (a cancelled or killed task included).
class PointClaim {
 public:
  PointClaim(const std::string& out_dir, const std::string& id) {
    const fs::path dir = fs::path(out_dir) / "claims";
    fs::create_directories(dir);
    const std::string path = (dir / (id + ".lock")).string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    SXB_REQUIRE(fd_ >= 0, fmt::format("{}: cannot open the claim file ({})", path, std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      SXB_REQUIRE(err == EWOULDBLOCK, fmt::format("{}: cannot lock the claim file ({})", path, std::strerror(err)));
    }
  }
  ~PointClaim() {
    if (fd_ >= 0) ::close(fd_);
  }
  PointClaim(const PointClaim&) = delete;
  PointClaim& operator=(const PointClaim&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace

SweepRunResult run_sweep(const Sweep& sweep, const SweepRunOptions& o) {
  SXB_REQUIRE(!o.out_dir.empty(), "sweep: no output folder");
  fs::create_directories(o.out_dir);
  SweepRunResult result;
  result.results_file = sweep_results_file(o.out_dir, o.shard.name());
  SweepResultsLog results(result.results_file);  // locked before the done ids are read
  const std::set<std::string> done = read_sweep_records(o.out_dir).ids();
  std::vector<const SweepPoint*> todo;
  for (const SweepPoint& p : sweep.points) {
    if (!o.shard.owns(p.index)) continue;
    ++result.owned;
    if (done.count(p.id)) ++result.skipped;
    else todo.push_back(&p);
  }
  const auto log = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  log(fmt::format("sweep {}: {} points, shard {} owns {}, {} already done, {} to run; results {}", sweep.name,
                  sweep.points.size(), o.shard.name(), result.owned, result.skipped, todo.size(),
                  result.results_file));
  // Data specs are checked before any point runs, not when a point reaches them hours later.
  for (const SweepPoint* p : todo)
    for (const std::string& spec : {p->config.data, p->config.eval_data}) {
      if (spec.empty()) continue;
      try {
        check_data_spec(resolve_data_spec(spec, o.data_root));
      } catch (const Error& e) {
        throw Error(fmt::format("sweep {}: point {} ({}): {}", sweep.name, p->index, p->varied.dump(), e.what()));
      }
    }
  if (todo.empty()) return result;
  std::unique_ptr<SweepResultsLog> failures;
  Runner runner(o);
  const Clock::time_point t0 = Clock::now();
  std::size_t attempted = 0;
  // Runs one point; false when the run is to stop (interrupted).
  const auto attempt = [&](const SweepPoint& p) {
    const std::size_t i = attempted++;
    log(fmt::format("[{}/{}] point {} id {} {}", i + 1, todo.size(), p.index, p.id, p.varied.dump()));
    try {
      bool interrupted = false;
      const json record = runner.run_point(sweep, p, interrupted);
      if (interrupted) {
        result.interrupted = true;
        return false;
      }
      results.append(record);
      ++result.done;
      const double per_point = seconds_since(t0) / static_cast<double>(i + 1);
      log(fmt::format("[{}/{}] point {}: software {:.2f}%, ideal {:.2f}%, non-ideal {:.2f}% in {}; ETA {}", i + 1,
                      todo.size(), p.index, 100 * sweep_metric(record, "software"),
                      100 * sweep_metric(record, "ideal"), 100 * sweep_metric(record, "nonideal"),
                      duration_text(record["seconds"]["total"].get<double>()),
                      duration_text(per_point * static_cast<double>(todo.size() - std::min(todo.size(), i + 1)))));
    } catch (const std::exception& e) {
      ++result.failed;
      log(fmt::format("[{}/{}] point {} FAILED: {}", i + 1, todo.size(), p.index, e.what()));
      if (!failures)
        failures = std::make_unique<SweepResultsLog>((fs::path(o.out_dir) / ("failures." + o.shard.name() + ".jsonl")).string());
      failures->append({{"id", p.id}, {"index", p.index}, {"varied", json::parse(p.varied.dump())},
                        {"error", e.what()}, {"finished", utc_now()}});
    }
    return true;
  };
  const auto may_go_on = [&] {
    if (o.max_points > 0 && result.done >= o.max_points) return false;
    if (o.stop_requested && o.stop_requested()) {
      result.interrupted = true;
      return false;
    }
    return true;
  };
  if (!o.shard.claim) {
    for (const SweepPoint* p : todo)
      if (!may_go_on() || !attempt(*p)) break;
    return result;
  }
  // Claiming: pass over the points not yet done, running each whose claim is
  // free and that no runner has finished meanwhile; again while a pass ran
  // something (a point another runner held may have been released).
  std::set<std::string> tried;
  for (bool progress = true; progress;) {
    progress = false;
    for (const SweepPoint* p : todo) {
      if (tried.count(p->id)) continue;
      if (!may_go_on()) return result;
      const PointClaim claim(o.out_dir, p->id);
      if (!claim.held()) continue;  // another runner is on it
      tried.insert(p->id);
      if (read_sweep_records(o.out_dir).ids().count(p->id)) {  // finished by another runner meanwhile
        ++result.skipped;
        continue;
      }
      progress = true;
      if (!attempt(*p)) return result;
    }
  }
  return result;
}

}  // namespace sxb
