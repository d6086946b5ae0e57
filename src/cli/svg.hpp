// cli/svg.hpp — a small SVG writer for the reports of `bomf search` and `bomf report`: shapes,
// text, markers and framed panels with "nice" axis ticks. libtorch-free.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace bomf::cli {

/// `text` with &, <, >, " and ' escaped for XML.
[[nodiscard]] std::string xml_escape(const std::string& text);

/// About `target` round tick values (1, 2 or 5 × 10^k steps) covering [lo, hi]; lo < hi.
[[nodiscard]] std::vector<double> nice_ticks(double lo, double hi, int target = 5);

/// The marker shapes of a plot's legend.
enum class Marker { circle, square, triangle, diamond, star, cross };

/// An SVG document of `width` × `height` pixels, drawn element by element.
class SvgCanvas {
 public:
  SvgCanvas(double width, double height);

  void line(double x1, double y1, double x2, double y2, const std::string& stroke,
            double width = 1.0, const std::string& dash = {});
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
                double width = 1.5);
  void rect(double x, double y, double w, double h, const std::string& fill,
            const std::string& stroke = "none");
  void circle(double cx, double cy, double r, const std::string& fill,
              const std::string& stroke = "none", double opacity = 1.0);
  /// A marker of radius `r` centred at (x, y).
  void marker(Marker shape, double x, double y, double r, const std::string& fill);
  /// Text at (x, y); `anchor` "start", "middle" or "end"; `rotate` in degrees about (x, y).
  void text(double x, double y, const std::string& text, double size = 11.0,
            const std::string& anchor = "start", const std::string& fill = "#222",
            double rotate = 0.0);
  /// The document.
  [[nodiscard]] std::string str() const;

 private:
  double width_;
  double height_;
  std::string body_;
};

/// A rectangular plot area mapping data ranges onto pixels (y grows upwards on screen).
struct Panel {
  double left = 0, top = 0, width = 0, height = 0;  ///< pixels
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;    ///< data

  [[nodiscard]] double px(double x) const { return left + (x - x_lo) / (x_hi - x_lo) * width; }
  [[nodiscard]] double py(double y) const {
    return top + height - (y - y_lo) / (y_hi - y_lo) * height;
  }
  /// Widens the data ranges to `nice_ticks` bounds plus a margin; a degenerate range becomes
  /// [v − 1, v + 1] (scaled to |v|).
  void fit(double x_min, double x_max, double y_min, double y_max);
  /// Draws the frame, grid, ticks, tick labels, axis labels and title.
  void draw_axes(SvgCanvas& svg, const std::string& title, const std::string& x_label,
                 const std::string& y_label) const;
};

}  // namespace bomf::cli
