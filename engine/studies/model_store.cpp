#include "engine/studies/model_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "engine/io/content_hash.h"
#include "engine/io/json_file.h"
#include "engine/io/stopwatch.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

namespace fs = std::filesystem;


// Exclusive lock on `<path>.lock` while a model is made: a second runner that
// needs the same model waits (polling `stop`, so a signal still ends the
// wait), then finds it made.
class ModelLock {
 public:
  ModelLock(const std::string& path, const std::function<bool()>& stop,
            const std::function<void(const std::string&)>& log) {
    const std::string lock = path + ".lock";
    fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    SXB_REQUIRE(fd_ >= 0, lock + ": cannot create the lock file (" + std::strerror(errno) + ")");
    for (int waited = 0; ::flock(fd_, LOCK_EX | LOCK_NB) != 0; ++waited) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        const std::string why = std::strerror(errno);
        ::close(fd_);  // the destructor does not run when the constructor throws
        throw Error(lock + ": cannot lock (" + why + ")");
      }
      if (waited == 0 && log) log("  waiting for another runner that is making " + path);
      if (stop && stop()) {
        stopped_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  ~ModelLock() { ::close(fd_); }
  ModelLock(const ModelLock&) = delete;
  ModelLock& operator=(const ModelLock&) = delete;
  bool stopped() const { return stopped_; }  // a stop was requested while waiting

 private:
  int fd_ = -1;
  bool stopped_ = false;
};

}  // namespace

ModelStore::ModelStore(const std::string& cache_dir, std::function<bool()> stop,
                       std::function<void(const std::string&)> log)
    // Absolute: pruning's resume compares the dense model's path.
    : dir_(fs::absolute(fs::path(cache_dir) / "sweep-models").lexically_normal().string()),
      stop_(std::move(stop)),
      log_(std::move(log)) {
  fs::create_directories(dir_);
}

StoredModel ModelStore::trained(TrainConfig t, const nlohmann::json& train_id, const nlohmann::json& engine,
                                const Dataset& train_set, const Dataset& test_set, nn::Backend& backend,
                                const TrainHooks& hooks) {
  StoredModel s;
  s.identity = {{"model", t.model}, {"width", t.width}, {"classes", t.classes}, {"data", t.data},
                {"train", train_id}, {"engine", engine}};
  s.path = (fs::path(dir_) / fmt::format("train-{}-{}.safetensors", t.model, short_hash(s.identity.dump()))).string();
  const Clock::time_point t0 = Clock::now();
  ModelLock lock(s.path, stop_, log_);
  if ((s.interrupted = lock.stopped())) return s;
  if (fs::exists(s.path)) {
    try {
      read_safetensors(s.path);  // a readable file; else it is made again
      return s;
    } catch (const Error& e) {
      if (log_) log_(fmt::format("  {} is unusable ({}); training it again", s.path, e.what()));
      fs::remove(s.path);
    }
  }
  t.out = s.path;
  t.resume = fs::exists(checkpoint_path(s.path));
  if (log_)
    log_(fmt::format("  training {} width {} on {} for {} epochs{} -> {}", t.model, t.width, t.data, t.epochs,
                     t.resume ? " (resuming)" : "", s.path));
  const TrainResult r = train(t, train_set, test_set, backend, hooks);
  s.interrupted = r.interrupted;
  s.seconds = seconds_since(t0);
  return s;
}

StoredModel ModelStore::pruned(PruneRunConfig r, const StoredModel& dense, const nlohmann::json& prune_id,
                               const nlohmann::json& engine, const Dataset& train_set, const Dataset& test_set,
                               nn::Backend& backend, const TrainHooks& hooks) {
  StoredModel s;
  s.identity = {{"dense", dense.identity}, {"data", r.data}, {"prune", prune_id}, {"engine", engine}};
  const std::string model = r.model.empty() ? "vgg" : r.model;
  const std::string stem = (fs::path(dir_) / fmt::format("prune-{}-{}", model, short_hash(s.identity.dump()))).string();
  const PrunePaths paths = prune_paths(stem);
  s.path = paths.model;
  const Clock::time_point t0 = Clock::now();
  ModelLock lock(stem, stop_, log_);
  if ((s.interrupted = lock.stopped())) return s;
  if (fs::exists(paths.model) && fs::exists(paths.layout) && fs::exists(paths.summary)) {
    const nlohmann::json summary = read_json_file(paths.summary, "the pruning summary");
    if (summary.value("status", "") == "done") {
      s.summary = {{"accuracy", summary.value("accuracy", nlohmann::json())},
                   {"pruning", summary.value("pruning", nlohmann::json())}};
      return s;
    }
  }
  r.weights = dense.path;
  r.out = stem;
  r.resume = fs::exists(paths.summary);
  r.check();
  const PruneSpec& p = r.spec;
  if (log_)
    log_(fmt::format("  pruning {} to sparsity {} at {}x{}{} -> {}", method_name(p.method), p.sparsity, p.tile_rows,
                     p.tile_cols, r.resume ? " (resuming)" : "", paths.model));
  const PruneRunResult result = run_pruning(r, train_set, test_set, backend, hooks);
  s.seconds = seconds_since(t0);
  if ((s.interrupted = result.interrupted)) return s;  // no summary yet
  s.summary = {{"accuracy", result.summary.value("accuracy", nlohmann::json())},
               {"pruning", result.summary.value("pruning", nlohmann::json())}};
  return s;
}

StoredModel ModelStore::tuned(TrainConfig t, const NonidealSettings& settings, const StoredModel& base,
                              const nlohmann::json& tune_id, const nlohmann::json& engine, const Dataset& train_set,
                              const Dataset& test_set, nn::Backend& backend, const TrainHooks& hooks) {
  StoredModel s;
  s.identity = {{"base", base.identity}, {"data", t.data}, {"nonideal_finetune", tune_id}, {"engine", engine}};
  s.path = (fs::path(dir_) / fmt::format("tune-{}-{}.safetensors", t.model, short_hash(s.identity.dump()))).string();
  const Clock::time_point t0 = Clock::now();
  ModelLock lock(s.path, stop_, log_);
  if ((s.interrupted = lock.stopped())) return s;
  if (fs::exists(s.path) && fs::exists(nonideal_state_path(s.path))) {
    const SafetensorsFile done = read_safetensors(s.path);
    if (done.metadata.count("nonideal_crossbar")) return s;  // finished (the metadata is written last)
  }
  t.init_weights = base.path;
  t.out = s.path;
  t.resume = fs::exists(checkpoint_path(s.path)) && fs::exists(nonideal_state_path(s.path));
  if (log_)
    log_(fmt::format("  non-ideal fine-tuning of {} for {} epochs at {}x{}{} -> {}", base.path, t.epochs,
                     settings.crossbar.tile_rows, settings.crossbar.tile_cols, t.resume ? " (resuming)" : "", s.path));
  const TrainResult r = train_nonideal(t, settings, train_set, test_set, backend, hooks);
  s.interrupted = r.interrupted;
  s.seconds = seconds_since(t0);
  return s;
}

}  // namespace sxb
