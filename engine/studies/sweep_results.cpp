#include "engine/studies/sweep_results.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "engine/io/json_file.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Cuts a torn last line (no final newline) off the file open as `fd`.
void drop_torn_tail(int fd, const std::string& path) {
  struct stat st {};
  SXB_REQUIRE(::fstat(fd, &st) == 0, path + ": cannot stat (" + std::strerror(errno) + ")");
  off_t end = st.st_size;
  char c = '\n';
  if (end == 0 || (::pread(fd, &c, 1, end - 1) == 1 && c == '\n')) return;
  std::vector<char> buf(4096);
  while (end > 0) {  // back to the last newline
    const off_t start = std::max<off_t>(0, end - static_cast<off_t>(buf.size()));
    const ssize_t got = ::pread(fd, buf.data(), static_cast<std::size_t>(end - start), start);
    SXB_REQUIRE(got == end - start, path + ": read failed");
    for (ssize_t i = got; i-- > 0;)
      if (buf[static_cast<std::size_t>(i)] == '\n') {
        SXB_REQUIRE(::ftruncate(fd, start + i + 1) == 0, path + ": cannot cut the torn last record");
        return;
      }
    end = start;
  }
  SXB_REQUIRE(::ftruncate(fd, 0) == 0, path + ": cannot cut the torn last record");
}

std::string number_text(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : ""; }

std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return number_text(v.get<double>());
  return v.dump();
}

}  // namespace

std::string sweep_results_file(const std::string& dir, const std::string& shard_name) {
  return (fs::path(dir) / ("results." + shard_name + ".jsonl")).string();
}

SweepResultsLog::SweepResultsLog(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  SXB_REQUIRE(fd_ >= 0, fmt::format("{}: cannot open for appending ({})", path, std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw Error(fmt::format("{}: another sweep runner of this shard holds it; run each shard once", path));
  }
  drop_torn_tail(fd_, path);
}

SweepResultsLog::~SweepResultsLog() {
  if (fd_ >= 0) ::close(fd_);  // also releases the lock
}

void SweepResultsLog::append(const json& record) {
  const std::string line = record.dump() + "\n";
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    SXB_REQUIRE(n > 0, fmt::format("{}: write failed ({})", path_, std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
  SXB_REQUIRE(::fsync(fd_) == 0, fmt::format("{}: fsync failed ({})", path_, std::strerror(errno)));
}

std::set<std::string> SweepRecords::ids() const {
  std::set<std::string> out;
  for (const json& r : records) out.insert(r.at("id").get<std::string>());
  return out;
}

SweepRecords read_sweep_records(const std::string& dir) {
  SweepRecords out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("results.") && name.ends_with(".jsonl")) files.push_back(e.path());
  }
  SXB_REQUIRE(!ec, fmt::format("{}: cannot list the folder ({})", dir, ec.message()));
  std::sort(files.begin(), files.end());
  std::set<std::string> seen;
  for (const fs::path& f : files) {
    std::ifstream in(f);
    SXB_REQUIRE(in.good(), fmt::format("{}: cannot open", f.string()));
    std::string line;
    while (std::getline(in, line)) {
      const bool complete = !in.eof();  // a last line without its newline is torn
      json r;
      try {
        r = parse_json_text(line, f.string());  // depth-limited: records are copied and written recursively
      } catch (const Error&) {
        r = json(json::value_t::discarded);
      }
      if (!complete || r.is_discarded() || !r.is_object() || !r.contains("id") || !r["id"].is_string()) {
        ++out.skipped;
        continue;
      }
      if (seen.insert(r["id"].get<std::string>()).second) out.records.push_back(std::move(r));
    }
  }
  std::stable_sort(out.records.begin(), out.records.end(), [](const json& a, const json& b) {
    return a.value("index", std::size_t{0}) < b.value("index", std::size_t{0});
  });
  return out;
}

std::vector<std::string> sweep_metric_names() {
  return {"software", "ideal", "nonideal", "loss", "test_images", "crossbars", "ccr", "nf_mean", "nf_max", "low_share",
          "seconds"};
}

namespace {

const char* const kVariantOrder[] = {"nonideal_none",    "nonideal_column",    "nonideal_layer",
                                     "nonideal_none_bn", "nonideal_column_bn", "nonideal_layer_bn"};

std::string variant_metric(const json& v) {
  std::string name = "nonideal_" + v.value("calibration", std::string("none"));
  if (v.value("bn_images", std::size_t{0}) > 0) name += "_bn";
  return name;
}

bool is_variant_metric(const std::string& m) { return m.starts_with("nonideal_"); }

}  // namespace

std::vector<std::string> sweep_metric_names(const std::vector<json>& records) {
  std::set<std::string> present;
  for (const json& r : records)
    if (r.contains("report") && r["report"].contains("variants") && r["report"]["variants"].is_array())
      for (const json& v : r["report"]["variants"])
        if (v.is_object()) present.insert(variant_metric(v));
  std::vector<std::string> names;
  for (const std::string& m : sweep_metric_names()) {
    names.push_back(m);
    if (m != "nonideal") continue;
    for (const char* v : kVariantOrder)
      if (present.erase(v)) names.push_back(v);
    names.insert(names.end(), present.begin(), present.end());  // calibrations added later
  }
  return names;
}

double sweep_metric(const json& record, const std::string& metric) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const json* rep = record.contains("report") ? &record["report"] : nullptr;
  const auto at = [&](std::initializer_list<const char*> path) -> double {
    const json* node = rep;
    for (const char* key : path) {
      if (!node || !node->is_object() || !node->contains(key)) return nan;
      node = &(*node)[key];
    }
    return node->is_number() ? node->get<double>() : nan;
  };
  if (metric == "software" || metric == "ideal" || metric == "nonideal" || metric == "loss")
    return at({"accuracy", metric.c_str()});
  if (is_variant_metric(metric)) {
    if (!rep || !rep->contains("variants") || !(*rep)["variants"].is_array()) return nan;
    for (const json& v : (*rep)["variants"])
      if (v.is_object() && variant_metric(v) == metric && v.contains("accuracy") && v["accuracy"].is_number())
        return v["accuracy"].get<double>();
    return nan;
  }
  if (metric == "test_images") return at({"data", "images"});
  if (metric == "crossbars") return at({"crossbars"});
  if (metric == "ccr") return at({"ccr"});
  if (metric == "nf_mean") return at({"nf", "mean"});
  if (metric == "nf_max") return at({"nf", "max"});
  if (metric == "low_share") return at({"low_conductance_share"});
  if (metric == "seconds") {
    const json* s = record.contains("seconds") ? &record["seconds"] : nullptr;
    return s && s->contains("total") && (*s)["total"].is_number() ? (*s)["total"].get<double>() : nan;
  }
  std::string names;
  for (const std::string& m : sweep_metric_names()) names += (names.empty() ? "" : ", ") + m;
  throw Error(fmt::format("unknown metric '{}' (metrics: {}, nonideal_<calibration>[_bn])", metric, names));
}

namespace {

// Grid keys in the sweep file's order, first-seen across sweeps.
std::vector<std::string> grid_keys_of(const std::vector<json>& records) {
  std::vector<std::string> keys;
  const auto add = [&](const std::string& key) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  };
  for (const json& r : records) {
    if (r.contains("grid_keys") && r["grid_keys"].is_array())
      for (const json& key : r["grid_keys"])
        if (key.is_string()) add(key.get<std::string>());
    if (r.contains("varied") && r["varied"].is_object())
      for (const auto& [key, value] : r["varied"].items()) add(key);
  }
  return keys;
}

std::string varied_text(const json& r, const std::string& key) {
  return r.contains("varied") && r["varied"].contains(key) ? value_text(r["varied"][key]) : "";
}

// The seeds of a point's normalised configuration: training, pruning, device variation.
const char* const kSeedColumns[] = {"train_seed", "prune_seed", "variation_seed"};
std::vector<std::string> seed_texts(const json& r) {
  const json* c = r.contains("config") && r["config"].is_object() ? &r["config"] : nullptr;
  const auto seed = [&](const char* block) -> std::string {
    if (!c || !c->contains(block) || !(*c)[block].is_object() || !(*c)[block].contains("seed")) return "";
    return value_text((*c)[block]["seed"]);
  };
  return {seed("train"), seed("prune"), seed("crossbar")};
}

}  // namespace

SweepTable sweep_table(const std::vector<json>& records) {
  SweepTable t;
  const std::vector<std::string> keys = grid_keys_of(records), metrics = sweep_metric_names(records);
  t.keys = keys;
  t.columns = {"index", "id"};
  t.columns.insert(t.columns.end(), keys.begin(), keys.end());
  t.columns.insert(t.columns.end(), metrics.begin(), metrics.end());
  t.columns.insert(t.columns.end(), std::begin(kSeedColumns), std::end(kSeedColumns));
  for (const json& r : records) {
    std::vector<std::string> row = {value_text(r.value("index", json(nullptr))), r.value("id", "")};
    for (const std::string& key : keys) row.push_back(varied_text(r, key));
    for (const std::string& m : metrics) row.push_back(number_text(sweep_metric(r, m)));
    for (std::string& s : seed_texts(r)) row.push_back(std::move(s));
    t.rows.push_back(std::move(row));
  }
  return t;
}

SweepTable sweep_table_mean(const std::vector<json>& records, const std::vector<std::string>& over) {
  const std::vector<std::string> all = grid_keys_of(records), metrics = sweep_metric_names(records);
  for (const std::string& k : over)
    SXB_REQUIRE(std::find(all.begin(), all.end(), k) != all.end(),
                Message{Key{"mean_over"}, fmt::format(" '{}' is not a grid key of these results", k)});
  std::vector<std::string> keys;
  for (const std::string& k : all)
    if (std::find(over.begin(), over.end(), k) == over.end()) keys.push_back(k);
  // Rows with the same values of the other keys, in first-seen order.
  std::vector<std::pair<std::vector<std::string>, std::vector<const json*>>> groups;
  for (const json& r : records) {
    std::vector<std::string> values;
    for (const std::string& k : keys) values.push_back(varied_text(r, k));
    auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == values; });
    if (g == groups.end()) g = groups.insert(groups.end(), {values, {}});
    g->second.push_back(&r);
  }
  SweepTable t;
  t.keys = keys;
  t.columns = keys;
  t.columns.push_back("n");
  for (const std::string& m : metrics) {
    t.columns.push_back(m);
    t.columns.push_back(m + "_std");
  }
  for (const auto& [values, rows] : groups) {
    std::vector<std::string> row = values;
    row.push_back(std::to_string(rows.size()));
    for (const std::string& m : metrics) {
      std::vector<double> v;
      for (const json* r : rows)
        if (const double x = sweep_metric(*r, m); std::isfinite(x)) v.push_back(x);
      const double nan = std::numeric_limits<double>::quiet_NaN();
      double mean = nan, var = nan;
      if (!v.empty()) {  // shifted by the first value: identical values give it exactly
        double shift = 0.0;
        for (double x : v) shift += x - v[0];
        mean = v[0] + shift / static_cast<double>(v.size());
      }
      if (v.size() > 1) {  // two passes: identical values give exactly 0
        var = 0.0;
        for (double x : v) var += (x - mean) * (x - mean);
        var /= static_cast<double>(v.size() - 1);
      }
      row.push_back(number_text(mean));
      row.push_back(number_text(std::sqrt(var)));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string table_csv(const SweepTable& t) {
  const auto cell = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) out += ',';
      out += cell(cells[i]);
    }
    out += '\n';
  };
  line(t.columns);
  for (const auto& row : t.rows) line(row);
  return out;
}

std::string table_markdown(const SweepTable& t) {
  const auto cell = [](std::string s) {
    for (std::size_t p = 0; (p = s.find('|', p)) != std::string::npos; p += 2) s.replace(p, 1, "\\|");
    return s;
  };
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    out += '|';
    for (const std::string& c : cells) {
      out += ' ';
      out += cell(c);
      out += " |";
    }
    out += '\n';
  };
  line(t.columns);
  line(std::vector<std::string>(t.columns.size(), "---"));
  for (const auto& row : t.rows) line(row);
  return out;
}

}  // namespace sxb
