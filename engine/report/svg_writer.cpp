#include "engine/report/svg_writer.h"

#include <fmt/format.h>
#include <stb/stb_image_write.h>

#include <cmath>

#include "kernels/common/error.h"

namespace sxb {

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

namespace {

std::string points_text(const std::vector<std::pair<double, double>>& points) {
  std::string s;
  for (const auto& [x, y] : points) s += fmt::format("{}{:.1f},{:.1f}", s.empty() ? "" : " ", x, y);
  return s;
}

}  // namespace

SvgWriter::SvgWriter(double width, double height, const std::string& title) : width_(width), height_(height) {
  body_ = fmt::format("<title>{}</title>\n<rect width=\"{:.0f}\" height=\"{:.0f}\" fill=\"white\"/>\n",
                      xml_escape(title), width, height);
}

void SvgWriter::rect(double x, double y, double w, double h, const std::string& fill, const std::string& extra) {
  body_ += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"{}{}/>\n", x, y,
                       w, h, fill, extra.empty() ? "" : " ", extra);
}

void SvgWriter::line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
                     const std::string& dash) {
  body_ += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"{:g}\"{}/>\n",
                       x1, y1, x2, y2, stroke, width, dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"");
}

void SvgWriter::polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke, double width,
                         const std::string& dash) {
  body_ += fmt::format("<polyline points=\"{}\" stroke=\"{}\" stroke-width=\"{:g}\" fill=\"none\"{}/>\n",
                       points_text(points), stroke, width,
                       dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"");
}

void SvgWriter::polygon(const std::vector<std::pair<double, double>>& points, const std::string& fill, double opacity) {
  body_ += fmt::format("<polygon points=\"{}\" fill=\"{}\" fill-opacity=\"{:g}\"/>\n", points_text(points), fill,
                       opacity);
}

void SvgWriter::marker(double x, double y, int shape, const std::string& fill) {
  const std::string edge = "stroke=\"black\" stroke-width=\"0.6\"";
  switch (shape % 4) {
    case 0: body_ += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\" {}/>\n", x, y, fill, edge); break;
    case 1: rect(x - 3.2, y - 3.2, 6.4, 6.4, fill, edge); break;
    case 2: polygon({{x, y - 4.2}, {x + 4, y + 3}, {x - 4, y + 3}}, fill, 1.0); break;
    default: polygon({{x, y - 4.5}, {x + 4, y}, {x, y + 4.5}, {x - 4, y}}, fill, 1.0); break;
  }
}

void SvgWriter::text(double x, double y, const std::string& s, const std::string& anchor, double size, double rotate,
                     const std::string& extra) {
  const std::string turn = rotate == 0.0 ? "" : fmt::format(" transform=\"rotate({:g} {:.1f} {:.1f})\"", rotate, x, y);
  body_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\" font-size=\"{:g}\"{}{}{}>{}</text>\n", x, y,
                       anchor, size, turn, extra.empty() ? "" : " ", extra, xml_escape(s));
}

void SvgWriter::image(double x, double y, double w, double h, const std::string& data_uri) {
  body_ += fmt::format(
      "<image x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" preserveAspectRatio=\"none\" "
      "style=\"image-rendering:optimizeSpeed;image-rendering:pixelated\" href=\"{}\"/>\n",
      x, y, w, h, data_uri);
}

void SvgWriter::open_group(const std::string& attributes) { body_ += "<g " + attributes + ">\n"; }
void SvgWriter::close_group() { body_ += "</g>\n"; }

std::string SvgWriter::str() const {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n{2}</svg>\n",
      width_, height_, body_);
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double span = hi - lo, raw = span / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double step = r < 1.5 ? mag : r < 3.5 ? 2 * mag : r < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * span; v += step)
    t.push_back(std::abs(v) < 1e-12 * step ? 0.0 : v);
  return t;
}

std::string tick_label(double value, const std::vector<double>& ticks) {
  const double step = ticks.size() > 1 ? std::abs(ticks[1] - ticks[0]) : std::abs(value);
  const int decimals = step > 0.0 ? std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9))) : 0;
  if (std::abs(value) >= 1e5 || (value != 0.0 && std::abs(value) < 1e-4)) return fmt::format("{:.2g}", value);
  return fmt::format("{:.{}f}", value, std::min(decimals, 6));
}

namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::string*>(context);
  out->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::uint32_t b0 = static_cast<std::uint8_t>(in[i]);
    const std::uint32_t b1 = i + 1 < in.size() ? static_cast<std::uint8_t>(in[i + 1]) : 0;
    const std::uint32_t b2 = i + 2 < in.size() ? static_cast<std::uint8_t>(in[i + 2]) : 0;
    const std::uint32_t v = b0 << 16 | b1 << 8 | b2;
    out += table[v >> 18 & 63];
    out += table[v >> 12 & 63];
    out += i + 1 < in.size() ? table[v >> 6 & 63] : '=';
    out += i + 2 < in.size() ? table[v & 63] : '=';
  }
  return out;
}

}  // namespace

std::string png_data_uri(const std::vector<std::uint8_t>& rgb, int width, int height) {
  SXB_REQUIRE(width > 0 && height > 0 && rgb.size() == static_cast<std::size_t>(width) * height * 3,
              "png_data_uri: the image size does not match its pixels");
  std::string png;
  SXB_REQUIRE(stbi_write_png_to_func(append_bytes, &png, width, height, 3, rgb.data(), width * 3) != 0,
              "png_data_uri: PNG encoding failed");
  return "data:image/png;base64," + base64(png);
}

}  // namespace sxb
