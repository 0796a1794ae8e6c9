// Results of a sweep: one JSON-lines file per shard in the output
// folder, `results.<k>-of-<N>.jsonl`, one record per finished point, each
// appended with one write and flushed to disk. A record torn by a kill is cut
// off when the shard's file is opened again, so a killed run loses at most the
// point in flight; a restarted sweep skips every id found in any results file.
// The merge step gathers the records into tables (CSV, Markdown); plots are
// drawn by engine/report/sweep_report.h.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sxb {

std::string sweep_results_file(const std::string& dir, const std::string& shard_name);

// Appends the records of one shard; holds an exclusive lock on the file so a
// second runner of the same shard fails at once instead of writing twice.
class SweepResultsLog {
 public:
  explicit SweepResultsLog(const std::string& path);
  ~SweepResultsLog();
  SweepResultsLog(const SweepResultsLog&) = delete;
  SweepResultsLog& operator=(const SweepResultsLog&) = delete;

  void append(const nlohmann::json& record);  // one line, written and fsync'ed
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

struct SweepRecords {
  std::vector<nlohmann::json> records;  // complete records of every results file, first of each id kept
  std::size_t skipped = 0;              // lines that were not a complete record (a torn last line)
  std::set<std::string> ids() const;
};
// Reads every `results.*.jsonl` in `dir` (none: empty). An unreadable folder is an Error.
SweepRecords read_sweep_records(const std::string& dir);

// One row per record (in point order): index, id, each varied key, then the
// metrics of the records (sweep_metric_names(records)), then the seeds of
// the point (train_seed, prune_seed, variation_seed).
struct SweepTable {
  std::vector<std::string> columns;
  std::vector<std::string> keys;  // the grid-key columns
  std::vector<std::vector<std::string>> rows;
};
SweepTable sweep_table(const std::vector<nlohmann::json>& records);
// One row per combination of the grid keys not in `over` (e.g. the seeds):
// those keys, n, then each metric's mean and sample standard deviation
// (<metric>_std; empty for n = 1). A key of `over` that is no grid key is an Error.
SweepTable sweep_table_mean(const std::vector<nlohmann::json>& records, const std::vector<std::string>& over);
std::string table_csv(const SweepTable& t);
std::string table_markdown(const SweepTable& t);

// The metric names and their value in a record (NaN when absent): software,
// ideal, nonideal (the first read-out variant), loss (software - nonideal),
// test_images, crossbars, ccr, nf_mean, nf_max, low_share, seconds, and one
// accuracy per read-out variant, "nonideal_<calibration>" and
// "nonideal_<calibration>_bn" (with batch-norm re-estimation).
std::vector<std::string> sweep_metric_names();
// The table's metrics for these records: the fixed ones with the read-out
// variants that any record holds inserted after "nonideal", in the order
// none, column, layer, then the same with _bn.
std::vector<std::string> sweep_metric_names(const std::vector<nlohmann::json>& records);
double sweep_metric(const nlohmann::json& record, const std::string& metric);

// Plots and the HTML report of merged results: engine/report/sweep_report.h.

}  // namespace sxb
