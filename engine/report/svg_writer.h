// The one drawing code of the reports: a tiny SVG writer (well-formed XML,
// numbers with a fixed precision, text escaped), round axis ticks, and PNG
// data URIs for raster heat maps embedded in an SVG. Everything drawn is
// self-contained: no script, font or file is fetched.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sxb {

std::string xml_escape(const std::string& s);

class SvgWriter {
 public:
  // `title` becomes the picture's <title> (its accessible name).
  SvgWriter(double width, double height, const std::string& title);

  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& extra = "");
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1.0,
            const std::string& dash = "");
  // An open polyline (a series) and a filled polygon (a band).
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke, double width,
                const std::string& dash = "");
  void polygon(const std::vector<std::pair<double, double>>& points, const std::string& fill, double opacity);
  // Markers that stay apart in grey: circle, square, triangle, diamond by `shape` modulo 4.
  void marker(double x, double y, int shape, const std::string& fill);
  // anchor: start, middle or end; rotate: degrees about (x, y).
  void text(double x, double y, const std::string& s, const std::string& anchor = "start", double size = 12,
            double rotate = 0.0, const std::string& extra = "");
  void image(double x, double y, double w, double h, const std::string& data_uri);
  void open_group(const std::string& attributes);
  void close_group();

  double width() const { return width_; }
  double height() const { return height_; }
  std::string str() const;  // the complete <svg> element

 private:
  double width_, height_;
  std::string body_;
};

// About `target` round values covering [lo, hi] (steps 1, 2, 5 x 10^k).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// A tick value printed with as many decimals as the tick step needs.
std::string tick_label(double value, const std::vector<double>& ticks);

// An RGB image (3 bytes per pixel, row-major) as a data:image/png;base64 URI.
std::string png_data_uri(const std::vector<std::uint8_t>& rgb, int width, int height);

}  // namespace sxb
