// Read-out variants of one crossbar evaluation: the evaluation settings and
// their errors, every calibration (and each with batch-norm re-estimation)
// from one set of solved tiles, equal to separate single-variant runs; the
// model's statistics restored; the typed report and its renderings agree;
// sweep points carry the settings.
#include <gtest/gtest.h>

#include "engine/evaluation/crossbar_eval.h"
#include "engine/evaluation/crossbar_render.h"
#include "engine/studies/sweep.h"
#include "kernels/common/error.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

using test::error_of;

TEST(EvaluationSettings, JsonRoundTripAndErrorsNameKeys) {
  const EvaluationSettings s = EvaluationSettings::from_json(
      {{"calibrations", {"column", "none"}}, {"bn_recalibrate", 64}, {"nf_by_source", true}}, "evaluation");
  EXPECT_EQ(s.calibrations, (std::vector<Calibration>{Calibration::Column, Calibration::None}));
  EXPECT_EQ(s.bn_recalibrate, 64u);
  EXPECT_TRUE(s.nf_by_source);
  const EvaluationSettings back = EvaluationSettings::from_json(s.to_json(), "evaluation");
  EXPECT_EQ(back.calibrations, s.calibrations);
  EXPECT_EQ(back.bn_recalibrate, s.bn_recalibrate);
  EXPECT_EQ(back.nf_by_source, s.nf_by_source);
  EXPECT_TRUE(EvaluationSettings{}.is_default());
  EXPECT_FALSE(s.is_default());

  EXPECT_NE(error_of([] { EvaluationSettings::from_json({{"calibration", {"none"}}}, "evaluation"); })
                .find("unknown key \"calibration\""),
            std::string::npos);
  EXPECT_NE(error_of([] { EvaluationSettings::from_json({{"calibrations", {"none", "none"}}}, "evaluation"); })
                .find("evaluation.calibrations"),
            std::string::npos);
  EXPECT_NE(error_of([] { EvaluationSettings::from_json({{"calibrations", {"gain"}}}, "evaluation"); }), "");
  EXPECT_NE(error_of([] { EvaluationSettings::from_json({{"bn_recalibrate", -1}}, "evaluation"); })
                .find("\"bn_recalibrate\""),
            std::string::npos);
  EXPECT_NE(error_of([] { EvaluationSettings::from_json({{"bn_recalibrate", 1.5}}, "evaluation"); }), "");
  EXPECT_EQ(parse_calibration_list("none,layer", "k"), (std::vector<Calibration>{Calibration::None, Calibration::Layer}));
  EXPECT_NE(error_of([] { parse_calibration_list("none,", "k"); }), "");
}

class ReadoutVariants : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = nn::make_cpu_backend();
    nn::VggConfig vc;
    vc.width = 0.0625;
    model_ = std::make_unique<nn::Vgg>(vc, *backend_);
    model_->init(7);
    options_.backend = Backend::Cpu;
    options_.crossbar = crossbar_preset("default");
    options_.crossbar.tile_rows = options_.crossbar.tile_cols = 32;
    options_.bn_train = &train_;
  }
  CrossbarEvalResult run(const std::vector<Calibration>& calibrations, std::size_t bn) {
    CrossbarEvalOptions o = options_;
    o.evaluation.calibrations = calibrations;
    o.evaluation.bn_recalibrate = bn;
    return evaluate_on_crossbars(*model_, test_, Normalization{}, o);
  }

  const Dataset train_ = load_dataset("synthetic:60", Split::Train);
  const Dataset test_ = load_dataset("synthetic:48", Split::Test);
  std::unique_ptr<nn::Backend> backend_;
  std::unique_ptr<nn::Vgg> model_;
  CrossbarEvalOptions options_;
};

TEST_F(ReadoutVariants, OneSolveEqualsSeparateRunsAndRestoresTheModel) {
  const std::vector<float> before = [&] {
    const EvalResult e = evaluate(*model_, test_, Normalization{});
    return e.logits;
  }();
  const CrossbarEvalResult all = run({Calibration::None, Calibration::Column, Calibration::Layer}, 40);
  const CrossbarReport& r = all.report;
  ASSERT_EQ(r.variants.size(), 6u);
  const char* names[] = {"none", "column", "layer"};
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(to_string(r.variants[k].calibration), names[k]);
    EXPECT_EQ(r.variants[k].bn_images, 0u);
    EXPECT_EQ(r.variants[k + 3].calibration, r.variants[k].calibration);
    EXPECT_EQ(r.variants[k + 3].bn_images, 40u);
    EXPECT_FALSE(r.variants[k + 3].bn.is_null());
  }
  EXPECT_EQ(r.variants[0].result.accuracy, r.nonideal.accuracy);
  EXPECT_EQ(r.variants[0].result.loss, r.nonideal.loss);
  // The model's batch-norm statistics and weights are as before.
  EXPECT_EQ(evaluate(*model_, test_, Normalization{}).logits, before);

  // Each variant equals a run that asks for that calibration alone (first, so
  // it is the run's plain non-ideal result, or its re-estimated variant).
  for (int k = 0; k < 3; ++k) {
    const CrossbarEvalResult one = run({r.variants[k].calibration}, 40);
    EXPECT_EQ(one.report.nonideal.loss, r.variants[k].result.loss) << names[k];
    ASSERT_EQ(one.report.variants.size(), 2u);
    EXPECT_EQ(one.report.variants[1].result.loss, r.variants[k + 3].result.loss) << names[k] << " + BN";
  }
  // Calibration moves the result: the column trim differs from no trim on this circuit.
  EXPECT_NE(r.variants[1].result.loss, r.variants[0].result.loss);
  for (const LayerReport& l : r.layers) EXPECT_GT(l.gain_mean, 1.0) << l.layer;  // parasitics lose current
}

TEST_F(ReadoutVariants, ZeroParasiticsMakeEveryVariantTheSoftwareModel) {
  options_.crossbar = crossbar_preset("ideal");
  options_.crossbar.tile_rows = options_.crossbar.tile_cols = 32;
  const CrossbarEvalResult r = run({Calibration::None, Calibration::Column, Calibration::Layer}, 0);
  ASSERT_EQ(r.report.variants.size(), 3u);
  for (const VariantReport& v : r.report.variants) EXPECT_EQ(v.result.accuracy, r.software.accuracy) << v.name();
  for (const LayerReport& l : r.report.layers) EXPECT_NEAR(l.gain_mean, 1.0, 1e-9) << l.layer;
}

TEST_F(ReadoutVariants, RenderingsAgreeWithTheTypedReport) {
  options_.evaluation.nf_by_source = true;
  const CrossbarEvalResult r = run({Calibration::None, Calibration::Column}, 24);
  const nlohmann::json j = to_json(r.report);
  ASSERT_EQ(j["variants"].size(), r.report.variants.size());
  for (std::size_t k = 0; k < r.report.variants.size(); ++k) {
    EXPECT_EQ(j["variants"][k]["accuracy"].get<double>(), r.report.variants[k].result.accuracy);
    EXPECT_EQ(j["variants"][k]["calibration"], to_string(r.report.variants[k].calibration));
  }
  EXPECT_EQ(j["accuracy"]["nonideal"].get<double>(), r.report.nonideal.accuracy);
  ASSERT_EQ(j["layers"].size(), r.report.layers.size());
  for (std::size_t l = 0; l < r.report.layers.size(); ++l) {
    const LayerReport& x = r.report.layers[l];
    ASSERT_TRUE(x.nf_by_source.has_value());
    EXPECT_EQ(j["layers"][l]["column_gain"]["mean"].get<double>(), x.gain_mean);
    EXPECT_EQ(j["layers"][l]["nf_by_source"]["r_source"]["mean"].get<double>(), x.nf_by_source->source.mean());
    EXPECT_LE(x.nf_by_source->source.mean(), x.nf_by_source->full.mean() + 1e-12);
  }
  const std::string table = crossbar_table(r.report);
  EXPECT_NE(table.find("column + BN re-estimation (24 images)"), std::string::npos) << table;
  EXPECT_NE(table.find("r_source%"), std::string::npos) << table;
  const std::string summary = crossbar_summary({r.report});
  EXPECT_NE(summary.find("[1] = column"), std::string::npos) << summary;
  CrossbarReport fewer = r.report;  // one legend cannot name two lists of variants
  fewer.variants.pop_back();
  EXPECT_NE(error_of([&] { crossbar_summary({r.report, fewer}); }).find("same read-out variants"), std::string::npos);
}

TEST(SweepEvaluation, TheEvaluationKeyReachesThePointAndItsId) {
  const nlohmann::json base = {{"data", "synthetic:64"}, {"train", {{"epochs", 1}}}};
  const SweepPointConfig plain = sweep_point_from_json(base, "p");
  nlohmann::json empty = base;
  empty["evaluation"] = nlohmann::json::object();
  EXPECT_EQ(sweep_point_from_json(empty, "p").id_json(), plain.id_json()) << "the default adds nothing to the id";
  nlohmann::json set = base;
  set["evaluation"] = {{"calibrations", {"none", "column"}}, {"bn_recalibrate", 16}};
  const SweepPointConfig c = sweep_point_from_json(set, "p");
  EXPECT_EQ(c.evaluation.bn_recalibrate, 16u);
  EXPECT_EQ(c.evaluation.calibrations.size(), 2u);
  EXPECT_NE(c.id_json(), plain.id_json());
  nlohmann::json set_column = set;  // with a list, the configuration's one calibration is not used
  set_column["crossbar"] = {{"calibration", "column"}};
  EXPECT_EQ(sweep_point_from_json(set_column, "p").id_json(), c.id_json());
  nlohmann::json alone = base;  // without a list it decides the read-out
  alone["crossbar"] = {{"calibration", "column"}};
  EXPECT_NE(sweep_point_from_json(alone, "p").id_json(), plain.id_json());
  nlohmann::json bad = base;
  bad["evaluation"] = {{"bn", 1}};
  EXPECT_NE(error_of([&] { sweep_point_from_json(bad, "p"); }).find("evaluation"), std::string::npos);
}

}  // namespace
}  // namespace sxb
