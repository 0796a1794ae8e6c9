// The HTML report: it parses as XML (so as XHTML-compatible HTML), every SVG
// is well-formed on its own, nothing is fetched from anywhere, every number
// tied to the JSON report equals it, the heat maps agree with the layer
// statistics of the solve, and the colour map reads in grey.
#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <stb/stb_image.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <fmt/format.h>

#include <regex>
#include <string>
#include <vector>

#include "engine/report/charts.h"
#include "engine/report/colormap.h"
#include "engine/report/html_report.h"
#include "engine/report/svg_writer.h"
#include "engine/report/sweep_report.h"
#include "kernels/common/error.h"
#include "models/io/atomic_file.h"
#include "tests/report/report_fixture.h"

namespace sxb {
namespace {

using Doc = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

// Strict XML parse (no recovery, no network); null with the parser's message on failure.
Doc parse(const std::string& text, std::string& error) {
  xmlResetLastError();
  Doc doc(xmlReadMemory(text.data(), static_cast<int>(text.size()), "report.html", "UTF-8",
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE),
          xmlFreeDoc);
  if (!doc) {
    const xmlError* e = xmlGetLastError();
    error = e && e->message ? "line " + std::to_string(e->line) + ": " + e->message : "unknown parse error";
  }
  return doc;
}

std::string attr(xmlNode* n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  std::string s = v ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return s;
}

std::string text_of(xmlNode* n) {
  xmlChar* v = xmlNodeGetContent(n);
  std::string s = v ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return s;
}

std::vector<xmlNode*> select(xmlDoc* doc, const char* xpath) {
  std::unique_ptr<xmlXPathContext, decltype(&xmlXPathFreeContext)> ctx(xmlXPathNewContext(doc), xmlXPathFreeContext);
  std::unique_ptr<xmlXPathObject, decltype(&xmlXPathFreeObject)> r(
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(xpath), ctx.get()), xmlXPathFreeObject);
  std::vector<xmlNode*> out;
  if (r && r->nodesetval)
    for (int k = 0; k < r->nodesetval->nodeNr; ++k) out.push_back(r->nodesetval->nodeTab[k]);
  return out;
}

std::string serialize(xmlDoc* doc, xmlNode* n) {
  xmlBufferPtr buf = xmlBufferCreate();
  xmlNodeDump(buf, doc, n, 0, 0);
  std::string s(reinterpret_cast<const char*>(xmlBufferContent(buf)), xmlBufferLength(buf));
  xmlBufferFree(buf);
  return s;
}

// Nothing is fetched: no script, and every href/src is a fragment or a data URI.
void expect_self_contained(xmlDoc* doc) {
  EXPECT_TRUE(select(doc, "//*[local-name()='script']").empty());
  EXPECT_TRUE(select(doc, "//*[local-name()='link']").empty());
  for (xmlNode* n : select(doc, "//*[@href or @src]")) {
    const std::string url = attr(n, "href") + attr(n, "src");
    EXPECT_TRUE(url.rfind("#", 0) == 0 || url.rfind("data:image/png;base64,", 0) == 0) << url.substr(0, 80);
  }
}

// Every SVG parses on its own as an SVG document.
std::size_t expect_svgs_well_formed(xmlDoc* doc) {
  const std::vector<xmlNode*> svgs = select(doc, "//*[local-name()='svg']");
  for (xmlNode* svg : svgs) {
    std::string error;
    Doc alone = parse(serialize(doc, svg), error);
    EXPECT_TRUE(alone) << error;
    if (!alone) continue;
    EXPECT_STREQ(reinterpret_cast<const char*>(xmlDocGetRootElement(alone.get())->ns->href),
                 "http://www.w3.org/2000/svg");
  }
  return svgs.size();
}

// Keeps the page under TEST_TMPDIR for a look (build/test-tmp/).
void keep(const std::string& name, const std::string& html) {
  const char* dir = std::getenv("TEST_TMPDIR");
  if (dir) write_file_atomic(std::string(dir) + name, html);
}

class HtmlReport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { result_ = new CrossbarEvalResult(test::small_evaluation()); }
  static void TearDownTestSuite() { delete result_; }
  static CrossbarEvalResult* result_;
};
CrossbarEvalResult* HtmlReport::result_ = nullptr;

TEST_F(HtmlReport, ParsesAndEveryNumberEqualsTheJsonReport) {
  const CrossbarReport& rep = result_->report;
  ASSERT_FALSE(rep.heatmaps.empty());
  ASSERT_EQ(rep.heatmaps.size(), rep.heatmaps_before.size());  // rearranged: before and after
  const std::string html = crossbar_html_report({rep, rep}, {"evaluate", "sparsexbar evaluate ...", 12.5});
  const nlohmann::json json = {{"runs", {to_json(rep), to_json(rep)}}};
  keep("html_report.html", html);
  std::string error;
  Doc doc = parse(html, error);
  ASSERT_TRUE(doc) << error;
  expect_self_contained(doc.get());
  // Accuracy loss; per run NF mean and max (by source), low-g share, crossbars, and one per heat map.
  const std::size_t svgs = expect_svgs_well_formed(doc.get());
  EXPECT_EQ(svgs, 1 + 2 * (4 + rep.heatmaps.size() + rep.heatmaps_before.size()));

  const std::vector<xmlNode*> tied = select(doc.get(), "//*[@data-json]");
  ASSERT_GT(tied.size(), 20u * 2);
  for (xmlNode* n : tied) {
    const std::string pointer = attr(n, "data-json"), shown = text_of(n);
    const double scale = std::stod(attr(n, "data-scale"));
    ASSERT_TRUE(json.contains(nlohmann::json::json_pointer(pointer))) << pointer;
    const double expected = json.at(nlohmann::json::json_pointer(pointer)).get<double>() * scale;
    const std::size_t dot = shown.find('.');
    const int decimals = dot == std::string::npos ? 0 : static_cast<int>(shown.size() - dot - 1);
    EXPECT_NEAR(std::stod(shown), expected, 0.5 * std::pow(10.0, -decimals) * (1 + 1e-9) + 1e-12)
        << pointer << " shows " << shown;
  }
  // The accuracy-loss bars: software minus each read-out variant, in points.
  const std::vector<xmlNode*> bars = select(doc.get(), "(//*[local-name()='svg'])[1]//*[@data-value]");
  ASSERT_EQ(bars.size(), 2 * rep.variants.size());
  for (std::size_t k = 0; k < bars.size(); ++k)
    EXPECT_NEAR(std::stod(attr(bars[k], "data-value")),
                100.0 * (rep.software.accuracy - rep.variants[k / 2].result.accuracy), 1e-6);
  // Heat maps: one group per map, its NF maximum that of the JSON report.
  const std::vector<xmlNode*> maps = select(doc.get(), "//*[@class='heatmap']");
  ASSERT_EQ(maps.size(), 2 * (rep.heatmaps.size() + rep.heatmaps_before.size()));
  for (std::size_t k = 0; k < rep.heatmaps.size(); ++k) {
    xmlNode* after = maps[2 * k + 1];  // before, then after, per layer
    EXPECT_EQ(attr(after, "data-layer"), json["runs"][0]["heatmaps"][k]["layer"].get<std::string>());
    EXPECT_NEAR(std::stod(attr(after, "data-nf-column-max")),
                json["runs"][0]["heatmaps"][k]["nf_column_max"].get<double>(), 1e-9);
  }
  // Each caption says which block of the weight matrix a drawn tile is.
  const TileHeatmap& first = rep.heatmaps[0].tiles[0];
  EXPECT_NE(html.find(fmt::format("tile {}: inputs {}-{}, outputs {}-{}", first.tile, first.first_input,
                                   first.last_input, first.first_output, first.last_output)),
            std::string::npos);
}

TEST_F(HtmlReport, HeatMapsAgreeWithTheSolvedLayers) {
  const CrossbarReport& rep = result_->report;
  std::size_t whole = 0;
  for (const LayerHeatmap& h : rep.heatmaps) {
    const auto layer = std::find_if(rep.layers.begin(), rep.layers.end(),
                                    [&](const LayerReport& l) { return l.layer == h.layer; });
    ASSERT_NE(layer, rep.layers.end());
    ASSERT_EQ(h.tiles_total, layer->positions);
    for (const TileHeatmap& t : h.tiles) {
      // The block of the weight matrix the tile holds, within the layer's K x N.
      EXPECT_LE(t.first_input, t.last_input);
      EXPECT_LT(t.last_input, layer->inputs);
      EXPECT_LE(t.first_output, t.last_output);
      EXPECT_LT(t.last_output, layer->outputs);
      EXPECT_LE(t.last_input - t.first_input + 1, t.used_rows > 0 ? layer->inputs : 0);
      ASSERT_EQ(t.g_pos.size(), 256u);
      for (float g : t.g_pos) ASSERT_TRUE(g >= 0.99 * h.g_min && g <= 1.01 * h.g_max) << g;
    }
    if (h.tiles.size() == h.tiles_total) {  // every tile drawn: the layer's NF, column by column
      ++whole;
      EXPECT_NEAR(h.nf_mean(), layer->nf_mean, 1e-6 * layer->nf_mean + 1e-12) << h.layer;
      EXPECT_NEAR(h.nf_max(), layer->nf_max, 1e-6 * layer->nf_max + 1e-12) << h.layer;
    }
  }
  EXPECT_EQ(whole, rep.layers.size());  // the default cap draws every tile of this small network
}

TEST(HtmlReportData, CapsTheCellsAndNamesAnUnknownLayer) {
  const CrossbarEvalResult r = test::small_evaluation(1024, "features.8");  // 4 tiles of 16 x 16
  ASSERT_EQ(r.report.heatmaps.size(), 1u);
  EXPECT_EQ(r.report.heatmaps[0].layer, "features.8");
  EXPECT_EQ(r.report.heatmaps[0].tiles.size(), std::min<std::size_t>(4, r.report.heatmaps[0].tiles_total));
  EXPECT_LT(r.report.heatmaps[0].tiles.size(), r.report.heatmaps[0].tiles_total);
  try {
    test::small_evaluation(1024, "features.99");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("features.99"), std::string::npos) << e.what();
  }
}

nlohmann::json sweep_record(int index, double wire, int seed, double nonideal, double ccr) {
  return {{"id", "p" + std::to_string(index)},
          {"index", index},
          {"grid_keys", {"crossbar.r_wire", "train.seed", "method"}},
          {"varied", {{"crossbar.r_wire", wire}, {"train.seed", seed}, {"method", ccr > 1.5 ? "xcs" : "cf"}}},
          {"report",
           {{"accuracy", {{"software", 0.9}, {"ideal", 0.9}, {"nonideal", nonideal}, {"loss", 0.9 - nonideal}}},
            {"crossbars", 100},
            {"ccr", ccr},
            {"nf", {{"mean", 0.1}, {"max", 0.2}}},
            {"low_conductance_share", 0.8}}}};
}

TEST(SweepReport, LinesPerSeriesWithBandsOverSeeds) {
  std::vector<nlohmann::json> records;
  int i = 0;
  for (double wire : {1.0, 5.0})
    for (int seed : {1, 2})
      for (double ccr : {1.0, 2.0}) records.push_back(sweep_record(i++, wire, seed, 0.8 - 0.02 * wire - 0.01 * seed, ccr));
  const std::string html = sweep_html_report(records, "nonideal", "method", "");
  keep("sweep_report.html", html);
  std::string error;
  Doc doc = parse(html, error);
  ASSERT_TRUE(doc) << error;
  expect_self_contained(doc.get());
  EXPECT_EQ(expect_svgs_well_formed(doc.get()), 2u);  // against crossbar.r_wire and against CCR (seed: averaged)
  EXPECT_EQ(select(doc.get(), "//*[local-name()='polyline' and @stroke-width='2']").size(), 4u);  // 2 series x 2
  EXPECT_EQ(select(doc.get(), "//*[local-name()='polygon' and @fill-opacity]").size(), 4u);        // seed bands
  EXPECT_EQ(select(doc.get(), "//*[local-name()='tr']").size(), records.size() + 1);
  EXPECT_THROW(sweep_html_report(records, "nonideal", "tile", ""), Error);
  EXPECT_THROW(sweep_html_report(records, "accuracy", "", ""), Error);
  // The table gives accuracies in %, as the charts do, and scrolls in its own box.
  EXPECT_EQ(select(doc.get(), "//*[local-name()='th' and text()='nonideal (%)']").size(), 1u);
  // 0.8 - 0.02 - 0.01 at r_wire 1, seed 1 (CCR 1 and 2).
  EXPECT_EQ(select(doc.get(), "//*[local-name()='td' and text()='77.00']").size(), 2u);
  EXPECT_EQ(select(doc.get(), "//*[local-name()='div' and contains(@style, 'overflow-x:auto')]/*[local-name()='table']")
                .size(),
            1u);
}

// An unpruned sweep (every CCR 1) has no chart against CCR: it would be one vertical line.
TEST(SweepReport, NoCcrChartWhenTheCcrDoesNotVary) {
  std::vector<nlohmann::json> records;
  int i = 0;
  for (double wire : {1.0, 5.0, 10.0}) records.push_back(sweep_record(i++, wire, 1, 0.8 - 0.02 * wire, 1.0));
  const std::string html = sweep_html_report(records, "nonideal", "", "");
  std::string error;
  Doc doc = parse(html, error);
  ASSERT_TRUE(doc) << error;
  EXPECT_EQ(expect_svgs_well_formed(doc.get()), 1u);  // against crossbar.r_wire only
  EXPECT_EQ(html.find("vs CCR"), std::string::npos);
}

// Bars below zero get negative tick labels; a colour bar labels its ends.
TEST(ReportDrawing, NegativeBarsHaveTicksAndColourBarsLabelTheirEnds) {
  const std::string bars = bar_chart_svg({"loss", "points", {}, {"a", "b"}, {{2.5}, {-0.4}}});
  EXPECT_TRUE(std::regex_search(bars, std::regex(">-[0-9.]+</text>"))) << bars;  // a tick at or below -0.4
  SvgWriter svg(200, 200, "t");
  colour_legend(svg, 10, 10, 150, 5.2, 50.0, "g");
  const std::string bar = svg.str();
  EXPECT_NE(bar.find(">5.2<"), std::string::npos) << bar;  // the lowest value, not only the tick 10
  EXPECT_NE(bar.find(">10<"), std::string::npos) << bar;
  EXPECT_NE(bar.find(">50<"), std::string::npos) << bar;
}

TEST(ReportDrawing, ViridisDarkensMonotonicallyForGreyPrinting) {
  double last = -1.0;
  for (int k = 0; k <= 100; ++k) {
    const Rgb c = viridis(k / 100.0);
    const double luma = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b;
    EXPECT_GT(luma, last) << k;
    last = luma;
  }
  EXPECT_EQ(hex(viridis(0.0)), "#440154");
  EXPECT_EQ(hex(viridis(2.0)), hex(viridis(1.0)));  // clamped
}

TEST(ReportDrawing, TicksCoverTheRangeAndPngsDecode) {
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{{0, 1}, {3.2, 97.1}, {-0.004, 0.013}, {5, 5e4}}) {
    const std::vector<double> t = nice_ticks(lo, hi);
    ASSERT_GE(t.size(), 3u) << lo << " " << hi;
    EXPECT_GE(t.front(), lo - 1e-12);
    EXPECT_LE(t.back(), hi + 1e-12);
    EXPECT_LE(t.front() - lo, t[1] - t[0]);
    EXPECT_NE(tick_label(t[0], t), tick_label(t[1], t));
  }
  std::vector<std::uint8_t> rgb(5 * 3 * 3);
  for (std::size_t k = 0; k < rgb.size(); ++k) rgb[k] = static_cast<std::uint8_t>(17 * k);
  const std::string uri = png_data_uri(rgb, 5, 3);
  const std::string prefix = "data:image/png;base64,";
  ASSERT_EQ(uri.rfind(prefix, 0), 0u);
  std::string bytes;  // base64 decode
  const std::string table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned v = 0;
  int bits = 0;
  for (char c : uri.substr(prefix.size())) {
    if (c == '=') break;
    v = v << 6 | static_cast<unsigned>(table.find(c));
    if ((bits += 6) >= 8) bytes += static_cast<char>(v >> (bits -= 8) & 255);
  }
  int w = 0, h = 0, n = 0;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> px(
      stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), &w,
                            &h, &n, 3),
      stbi_image_free);
  ASSERT_TRUE(px);
  ASSERT_EQ(w, 5);
  ASSERT_EQ(h, 3);
  EXPECT_TRUE(std::equal(rgb.begin(), rgb.end(), px.get()));
}

TEST(ReportDrawing, ChartTextIsEscaped) {
  const std::string svg = bar_chart_svg({"a < b & \"c\"", "y (%)", {}, {"x<1>"}, {{1.0}}});
  std::string error;
  EXPECT_TRUE(parse(svg, error)) << error;
  EXPECT_NE(svg.find("a &lt; b &amp; &quot;c&quot;"), std::string::npos);
}

}  // namespace
}  // namespace sxb
