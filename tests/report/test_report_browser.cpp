// The HTML reports as a browser draws them: a headless chromium renders a
// small report to a PNG, which must not be blank (many colours, dark pixels),
// and lays out the crossbar and sweep reports at a 1000-pixel-wide window with
// a checking script added: nothing may overflow the page, no SVG may have zero
// size, no table column may be hidden or cut off, every chart has axis labels.
// SKIPPED when `chromium` is not installed (Debian: apt-get install chromium).
#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/report/html_report.h"
#include "engine/report/sweep_report.h"
#include "models/io/atomic_file.h"
#include "tests/report/report_fixture.h"

namespace sxb {
namespace {

TEST(ReportBrowser, RendersToAPictureThatIsNotBlank) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "chromium is not installed (apt-get install chromium to run this test)";
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::filesystem::path dir = std::filesystem::path(tmp ? tmp : "/tmp") / "report_browser";
  std::filesystem::create_directories(dir);
  const std::filesystem::path html = dir / "report.html", png = dir / "report.png";
  std::filesystem::remove(png);
  const CrossbarEvalResult r = test::small_evaluation(4096, "features.8");
  write_file_atomic(html.string(), crossbar_html_report({r.report}, {"evaluate", "", 0.0}));
  const std::string command = "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,3000 "
                              "--screenshot=" + png.string() + " file://" + html.string() + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  int w = 0, h = 0, n = 0;
  std::unique_ptr<unsigned char, decltype(&stbi_image_free)> px(stbi_load(png.c_str(), &w, &h, &n, 3),
                                                                stbi_image_free);
  ASSERT_TRUE(px) << png;
  ASSERT_GT(w * h, 100000);
  std::set<int> colours;
  std::size_t dark = 0;
  for (std::size_t k = 0; k < static_cast<std::size_t>(w) * h; ++k) {
    const unsigned char* p = px.get() + 3 * k;
    colours.insert(p[0] << 16 | p[1] << 8 | p[2]);
    dark += p[0] + p[1] + p[2] < 200;
  }
  EXPECT_GT(colours.size(), 50u);  // text, charts and heat maps, not one flat colour
  EXPECT_GT(dark, static_cast<std::size_t>(w) * h / 1000);
}

// Runs after layout and writes what it finds into <body data-layout="...">;
// chromium --dump-dom prints the page after its scripts ran.
const char* kLayoutCheck = R"(<script>
window.addEventListener('load', () => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1)
    problems.push('the page overflows: ' + document.documentElement.scrollWidth + ' px wide in a ' + width + ' px window');
  document.querySelectorAll('svg').forEach((svg, k) => {
    const r = svg.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) problems.push('svg ' + k + ' has zero size');
    if (r.right > width + 1) problems.push('svg ' + k + ' reaches past the page');
    const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim() !== '');
    const isChart = svg.querySelector('polyline, rect.bar, [class=bar]') !== null;
    const rotated = texts.some(t => (t.getAttribute('transform') || '').includes('rotate(-90'));
    if (isChart && (!rotated || texts.length < 4)) problems.push('chart svg ' + k + ' has no axis labels');
  });
  document.querySelectorAll('table').forEach((table, k) => {
    let box = table.parentElement;
    const scrolls = box && getComputedStyle(box).overflowX === 'auto';
    const limit = scrolls ? box.getBoundingClientRect().right : width;
    const cells = table.rows.length ? [...table.rows[0].cells] : [];
    cells.forEach((c, j) => {
      const r = c.getBoundingClientRect();
      if (r.width < 1 || getComputedStyle(c).display === 'none' || getComputedStyle(c).visibility === 'hidden')
        problems.push('table ' + k + ' column ' + j + ' is hidden');
      if (!scrolls && r.right > limit + 1) problems.push('table ' + k + ' column ' + j + ' is cut off');
    });
  });
  document.body.setAttribute('data-layout', JSON.stringify(problems));
});
</script>)";

// The problems the check script found in `html`, laid out by chromium; "" and
// a failure when chromium did not run.
std::vector<std::string> layout_problems(const std::string& html, const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::filesystem::path dir = std::filesystem::path(tmp ? tmp : "/tmp") / "report_browser";
  std::filesystem::create_directories(dir);
  const std::filesystem::path page = dir / (name + ".html");
  std::string checked = html;
  const std::size_t end = checked.rfind("</body>");
  checked.insert(end == std::string::npos ? checked.size() : end, kLayoutCheck);
  write_file_atomic(page.string(), checked);
  const std::string command = "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,2000 "
                              "--virtual-time-budget=5000 --dump-dom file://" + page.string() + " 2>/dev/null";
  std::string dom;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return {"cannot start chromium"};
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) dom.append(buf, n);
  pclose(p);
  const std::string key = "data-layout=\"";
  const std::size_t at = dom.find(key);
  if (at == std::string::npos) return {"chromium did not run the check script (" + command + ")"};
  std::string value = dom.substr(at + key.size(), dom.find('"', at + key.size()) - at - key.size());
  for (std::size_t q; (q = value.find("&quot;")) != std::string::npos;) value.replace(q, 6, "\"");
  for (std::size_t q; (q = value.find("&amp;")) != std::string::npos;) value.replace(q, 5, "&");
  return nlohmann::json::parse(value).get<std::vector<std::string>>();
}

nlohmann::json sweep_point(int index, double wire, int tile, double nonideal, double ccr) {
  return {{"id", "point" + std::to_string(index)},
          {"index", index},
          {"grid_keys", {"crossbar.r_wire", "tile", "prune.sparsity"}},
          {"varied", {{"crossbar.r_wire", wire}, {"tile", tile}, {"prune.sparsity", ccr > 1.5 ? 0.75 : 0.5}}},
          {"report",
           {{"accuracy", {{"software", 0.9}, {"ideal", 0.9}, {"nonideal", nonideal}, {"loss", 0.9 - nonideal}}},
            {"crossbars", 100},
            {"ccr", ccr},
            {"nf", {{"mean", 0.1}, {"max", 0.2}}},
            {"low_conductance_share", 0.8}}}};
}

TEST(ReportBrowser, ReportsFitThePageAndEveryChartHasAxes) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "chromium is not installed (apt-get install chromium to run this test)";
  const CrossbarEvalResult r = test::small_evaluation(4096, "features.8");
  for (const std::string& problem :
       layout_problems(crossbar_html_report({r.report, r.report}, {"demo", "sparsexbar demo", 1.0}), "demo"))
    ADD_FAILURE() << "demo report: " << problem;
  std::vector<nlohmann::json> records;
  int i = 0;
  for (double wire : {1.0, 2.5, 5.0, 10.0})
    for (int tile : {16, 32, 64})
      for (double ccr : {1.3, 2.1}) records.push_back(sweep_point(i++, wire, tile, 0.8 - 0.01 * wire - 0.001 * tile, ccr));
  for (const std::string& problem : layout_problems(sweep_html_report(records, "nonideal", "tile", ""), "sweep"))
    ADD_FAILURE() << "sweep report: " << problem;
  // The check finds what it looks for: a page wider than the window.
  const std::vector<std::string> wide =
      layout_problems("<html><body><div style=\"width:3000px\">wide</div></body></html>", "wide");
  ASSERT_EQ(wide.size(), 1u);
  EXPECT_NE(wide[0].find("the page overflows"), std::string::npos) << wide[0];
}

}  // namespace
}  // namespace sxb
