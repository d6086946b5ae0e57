#include "cli/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bomf::cli {
namespace {

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", v);
  return buffer;
}

std::string tick_label(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buffer;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const char* entity = c == '&'    ? "&amp;"
                         : c == '<'  ? "&lt;"
                         : c == '>'  ? "&gt;"
                         : c == '"'  ? "&quot;"
                         : c == '\'' ? "&apos;"
                                     : nullptr;
    if (entity != nullptr) {
      out += entity;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double span = hi - lo;
  const double raw = span / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) {
      break;
    }
  }
  std::vector<double> ticks;
  const double first = std::ceil(lo / step - 1e-9);
  for (double k = first; k * step <= hi + step * 1e-9 && ticks.size() <= 50; k += 1.0) {
    ticks.push_back(k * step);
  }
  return ticks;
}

SvgCanvas::SvgCanvas(double width, double height) : width_(width), height_(height) {}

void SvgCanvas::line(double x1, double y1, double x2, double y2, const std::string& stroke,
                     double width, const std::string& dash) {
  body_ += "<line x1=\"" + number(x1) + "\" y1=\"" + number(y1) + "\" x2=\"" + number(x2) +
           "\" y2=\"" + number(y2) + "\" stroke=\"" + stroke + "\" stroke-width=\"" +
           number(width) + "\"" + (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") +
           "/>\n";
}

void SvgCanvas::polyline(const std::vector<std::pair<double, double>>& points,
                         const std::string& stroke, double width) {
  if (points.empty()) {
    return;
  }
  std::string p;
  for (const auto& [x, y] : points) {
    p += (p.empty() ? "" : " ") + number(x) + "," + number(y);
  }
  body_ += "<polyline points=\"" + p + "\" fill=\"none\" stroke=\"" + stroke +
           "\" stroke-width=\"" + number(width) + "\"/>\n";
}

void SvgCanvas::rect(double x, double y, double w, double h, const std::string& fill,
                     const std::string& stroke) {
  body_ += "<rect x=\"" + number(x) + "\" y=\"" + number(y) + "\" width=\"" + number(w) +
           "\" height=\"" + number(h) + "\" fill=\"" + fill + "\" stroke=\"" + stroke + "\"/>\n";
}

void SvgCanvas::circle(double cx, double cy, double r, const std::string& fill,
                       const std::string& stroke, double opacity) {
  body_ += "<circle cx=\"" + number(cx) + "\" cy=\"" + number(cy) + "\" r=\"" + number(r) +
           "\" fill=\"" + fill + "\" stroke=\"" + stroke + "\"" +
           (opacity < 1.0 ? " opacity=\"" + number(opacity) + "\"" : std::string()) + "/>\n";
}

void SvgCanvas::marker(Marker shape, double x, double y, double r, const std::string& fill) {
  const auto polygon = [&](const std::vector<std::pair<double, double>>& points) {
    std::string p;
    for (const auto& [dx, dy] : points) {
      p += (p.empty() ? "" : " ") + number(x + dx) + "," + number(y + dy);
    }
    body_ += "<polygon points=\"" + p + "\" fill=\"" + fill + "\" stroke=\"#222\"/>\n";
  };
  switch (shape) {
    case Marker::circle:
      circle(x, y, r, fill, "#222");
      return;
    case Marker::square:
      polygon({{-r, -r}, {r, -r}, {r, r}, {-r, r}});
      return;
    case Marker::triangle:
      polygon({{0, -1.2 * r}, {1.1 * r, 0.8 * r}, {-1.1 * r, 0.8 * r}});
      return;
    case Marker::diamond:
      polygon({{0, -1.3 * r}, {1.1 * r, 0}, {0, 1.3 * r}, {-1.1 * r, 0}});
      return;
    case Marker::star: {
      std::vector<std::pair<double, double>> points;
      for (int k = 0; k < 10; ++k) {
        const double radius = (k % 2 == 0 ? 1.6 : 0.7) * r;
        const double angle = -M_PI / 2 + k * M_PI / 5;
        points.emplace_back(radius * std::cos(angle), radius * std::sin(angle));
      }
      polygon(points);
      return;
    }
    case Marker::cross:
      line(x - r, y - r, x + r, y + r, fill, 2.5);
      line(x - r, y + r, x + r, y - r, fill, 2.5);
      return;
  }
}

void SvgCanvas::text(double x, double y, const std::string& text, double size,
                     const std::string& anchor, const std::string& fill, double rotate) {
  body_ += "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" font-size=\"" + number(size) +
           "\" text-anchor=\"" + anchor + "\" fill=\"" + fill + "\"" +
           (rotate != 0.0 ? " transform=\"rotate(" + number(rotate) + " " + number(x) + " " +
                                number(y) + ")\""
                          : std::string()) +
           ">" + xml_escape(text) + "</text>\n";
}

std::string SvgCanvas::str() const {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width_) + "\" height=\"" +
         number(height_) + "\" viewBox=\"0 0 " + number(width_) + " " + number(height_) +
         "\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" +
         body_ + "</svg>\n";
}

void Panel::fit(double x_min, double x_max, double y_min, double y_max) {
  const auto widen = [](double& lo, double& hi) {
    if (!(std::isfinite(lo) && std::isfinite(hi))) {
      lo = 0.0;
      hi = 1.0;
    }
    if (hi - lo <= 1e-12 * std::max(1.0, std::abs(lo))) {
      const double d = std::max(1e-3, 0.05 * std::abs(lo));
      lo -= d;
      hi += d;
    }
    const double margin = 0.06 * (hi - lo);
    lo -= margin;
    hi += margin;
  };
  widen(x_min, x_max);
  widen(y_min, y_max);
  x_lo = x_min;
  x_hi = x_max;
  y_lo = y_min;
  y_hi = y_max;
}

void Panel::draw_axes(SvgCanvas& svg, const std::string& title, const std::string& x_label,
                      const std::string& y_label) const {
  svg.rect(left, top, width, height, "#fbfbfb", "#888");
  for (const double t : nice_ticks(x_lo, x_hi)) {
    svg.line(px(t), top, px(t), top + height, "#e4e4e4");
    svg.text(px(t), top + height + 14, tick_label(t), 10, "middle");
  }
  for (const double t : nice_ticks(y_lo, y_hi)) {
    svg.line(left, py(t), left + width, py(t), "#e4e4e4");
    svg.text(left - 5, py(t) + 3.5, tick_label(t), 10, "end");
  }
  svg.text(left + width / 2, top - 10, title, 13, "middle");
  svg.text(left + width / 2, top + height + 32, x_label, 11, "middle");
  svg.text(left - 48, top + height / 2, y_label, 11, "middle", "#222", -90);
}

}  // namespace bomf::cli
