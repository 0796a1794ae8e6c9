#include "engine/evaluation/evaluation_settings.h"

#include <fmt/format.h>

#include <set>

#include "kernels/common/error.h"

namespace sxb {

// The largest bn_recalibrate accepted: more images than any data set has.
constexpr std::size_t kMaxBnImages = std::size_t{1} << 31;

EvaluationSettings EvaluationSettings::from_json(const nlohmann::json& j, const std::string& context) {
  SXB_REQUIRE(j.is_object(), fmt::format("{}: expected a JSON object (got {})", context, j.dump()));
  EvaluationSettings s;
  for (const auto& [key, value] : j.items()) {
    const std::string where = fmt::format("{}: \"{}\"", context, key);
    if (key == "calibrations") {
      SXB_REQUIRE(value.is_array(), where + " must be an array of calibration names");
      for (const auto& c : value) {
        SXB_REQUIRE(c.is_string(), fmt::format("{} must hold names (got {})", where, c.dump()));
        s.calibrations.push_back(parse_calibration(c.get<std::string>(), context + ".calibrations"));
      }
    } else if (key == "bn_recalibrate") {
      SXB_REQUIRE(value.is_number_integer() && value.get<long long>() >= 0 &&
                      value.get<long long>() <= static_cast<long long>(kMaxBnImages),
                  fmt::format("{} must be an integer in [0, {}] (got {})", where, kMaxBnImages, value.dump()));
      s.bn_recalibrate = value.get<std::size_t>();
    } else if (key == "nf_by_source") {
      SXB_REQUIRE(value.is_boolean(), fmt::format("{} must be true or false (got {})", where, value.dump()));
      s.nf_by_source = value.get<bool>();
    } else {
      throw Error(fmt::format("{}: unknown key \"{}\" (known: calibrations, bn_recalibrate, nf_by_source)", context, key));
    }
  }
  s.check(context);
  return s;
}

nlohmann::json EvaluationSettings::to_json() const {
  nlohmann::json names = nlohmann::json::array();
  for (Calibration c : calibrations) names.push_back(to_string(c));
  return {{"calibrations", names}, {"bn_recalibrate", bn_recalibrate}, {"nf_by_source", nf_by_source}};
}

void EvaluationSettings::check(const std::string& context) const {
  std::set<Calibration> seen;
  for (Calibration c : calibrations)
    SXB_REQUIRE(seen.insert(c).second,
                Message{Key{context + ".calibrations"}, fmt::format(": \"{}\" is listed twice", to_string(c))});
  SXB_REQUIRE(bn_recalibrate <= kMaxBnImages,
              Message{Key{context + ".bn_recalibrate"},
                      fmt::format(" must be at most {} (got {})", kMaxBnImages, bn_recalibrate)});
}

std::vector<Calibration> parse_calibration_list(const std::string& text, const std::string& key) {
  std::vector<Calibration> out;
  std::size_t begin = 0;
  while (true) {  // every comma-separated name, an empty one included (an error)
    const std::size_t comma = text.find(',', begin);
    out.push_back(parse_calibration(text.substr(begin, comma - begin), key));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return out;
}

}  // namespace sxb
