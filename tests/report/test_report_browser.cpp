// The HTML report as a browser draws it: a headless chromium renders a small
// report to a PNG, which must not be blank (many colours, dark pixels).
// SKIPPED when `chromium` is not installed (Debian: apt-get install chromium).
#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>

#include "engine/report/html_report.h"
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

}  // namespace
}  // namespace sxb
