// supersense/report.cpp — terminal table, Markdown, CSV and SVG of the workflow (report.hpp).
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <system_error>

#include "bomf/core/error.hpp"

namespace supersense {

namespace {

/// printf into a std::string.
std::string format(const char* pattern, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* pattern, ...) {
  va_list args;
  va_start(args, pattern);
  va_list copy;
  va_copy(copy, args);
  const int size = std::vsnprintf(nullptr, 0, pattern, copy);
  va_end(copy);
  std::string out(static_cast<std::size_t>(std::max(size, 0)) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), pattern, args);
  va_end(args);
  out.resize(static_cast<std::size_t>(std::max(size, 0)));
  return out;
}

}  // namespace

std::string fixed(double v, int digits) {
  return std::isfinite(v) ? format("%.*f", digits, v) : std::string("nan");
}

std::string join_delta(const std::vector<double>& delta, const char* separator, int digits) {
  std::string out;
  for (std::size_t i = 0; i < delta.size(); ++i) {
    out += (i == 0 ? "" : separator) + format("%.*g", digits, delta[i]);
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (const char c : s) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

void write_text_file(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) {
    throw bomf::io_error("supersense: cannot write '" + path + "'");
  }
}

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Index of the method with the best value of a test column (−1 when none is finite).
int best_method(const std::vector<MethodRow>& methods, double Scores::*column, bool maximize) {
  int best = -1;
  for (std::size_t i = 0; i < methods.size(); ++i) {
    const double v = methods[i].test.*column;
    if (!std::isfinite(v)) {
      continue;
    }
    if (best < 0 || (maximize ? v > methods[static_cast<std::size_t>(best)].test.*column
                              : v < methods[static_cast<std::size_t>(best)].test.*column)) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

double stage_sum(const WorkflowReport& r, double StageTime::*field) {
  double s = 0;
  for (const StageTime& t : r.stages) {
    s += t.*field;
  }
  return s;
}

// ------------------------------------------------------------------------------------- SVG

/// About `target` round tick values (1, 2, 5 × 10^k) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  std::vector<double> ticks;
  if (!(std::isfinite(lo) && std::isfinite(hi)) || !(hi > lo)) {
    return ticks;
  }
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (raw <= step) {
      break;
    }
  }
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) {
    ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  }
  return ticks;
}

/// Decimals that show the difference between ticks.
int tick_digits(const std::vector<double>& ticks) {
  if (ticks.size() < 2) {
    return 3;
  }
  const double step = ticks[1] - ticks[0];
  return std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 6);
}

/// A rectangle of the canvas with a linear map from data coordinates.
struct Panel {
  double left, top, width, height;  // pixels
  double x0, x1, y0, y1;            // data range

  [[nodiscard]] double px(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  [[nodiscard]] double py(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }
};

/// Range [lo, hi] of the finite values, padded by 5 % (or ±0.5 when all equal / ±1 when empty).
std::pair<double, double> padded_range(const std::vector<double>& values) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const double v : values) {
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!std::isfinite(lo)) {
    return {0.0, 1.0};
  }
  if (hi - lo < 1e-12) {
    const double pad = std::max(std::abs(lo) * 0.05, 1e-3);
    return {lo - pad, hi + pad};
  }
  const double pad = 0.05 * (hi - lo);
  return {lo - pad, hi + pad};
}

void draw_axes(std::string& svg, const Panel& p, const std::string& title,
               const std::string& x_label, const std::string& y_label) {
  svg += format(
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
      "stroke=\"#444\"/>\n",
      p.left, p.top, p.width, p.height);
  const std::vector<double> xt = nice_ticks(p.x0, p.x1);
  const std::vector<double> yt = nice_ticks(p.y0, p.y1);
  const int xd = tick_digits(xt);
  const int yd = tick_digits(yt);
  for (const double t : xt) {
    const double x = p.px(t);
    svg += format(
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n",
        x, p.top, x, p.top + p.height, x, p.top + p.height + 16, xd, t);
  }
  for (const double t : yt) {
    const double y = p.py(t);
    svg += format(
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
        p.left, y, p.left + p.width, y, p.left - 6, y + 4, yd, t);
  }
  svg +=
      format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n",
             p.left + p.width / 2, p.top - 10, xml_escape(title).c_str());
  svg += format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                p.left + p.width / 2, p.top + p.height + 36, xml_escape(x_label).c_str());
  svg += format(
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f "
      "%.1f)\">%s</text>\n",
      p.left - 58, p.top + p.height / 2, p.left - 58, p.top + p.height / 2,
      xml_escape(y_label).c_str());
}

/// Marker style of a method (by name; other names get a grey square).
struct Marker {
  const char* shape;  // "star", "square", "triangle", "diamond", "down", "cross"
  const char* color;
};

Marker marker_for(const std::string& method) {
  static const std::pair<const char*, Marker> kMarkers[] = {
      {"BOMF", {"star", "#d62728"}},
      {"Best member", {"square", "#2ca02c"}},
      {"Last checkpoint", {"triangle", "#ff7f0e"}},
      {"SWA", {"diamond", "#9467bd"}},
      {"Greedy SWA", {"down", "#8c564b"}},
      {"Learned SWA", {"cross", "#17becf"}},
  };
  for (const auto& [name, marker] : kMarkers) {
    if (method == name) {
      return marker;
    }
  }
  return {"square", "#7f7f7f"};
}

std::string marker_svg(const Marker& m, double x, double y, double r) {
  const std::string style = format("fill=\"%s\" stroke=\"black\" stroke-width=\"0.8\"", m.color);
  const std::string shape = m.shape;
  if (shape == "square") {
    return format("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" %s/>", x - r, y - r,
                  2 * r, 2 * r, style.c_str());
  }
  if (shape == "diamond") {
    return format("<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" %s/>", x,
                  y - 1.3 * r, x + 1.3 * r, y, x, y + 1.3 * r, x - 1.3 * r, y, style.c_str());
  }
  if (shape == "triangle" || shape == "down") {
    const double s = shape == "triangle" ? 1.0 : -1.0;
    return format("<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" %s/>", x, y - s * 1.3 * r,
                  x + 1.2 * r, y + s * 0.8 * r, x - 1.2 * r, y + s * 0.8 * r, style.c_str());
  }
  if (shape == "cross") {
    const double a = 0.45 * r;
    const double b = 1.3 * r;
    return format(
        "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f "
        "%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" %s/>",
        x - a, y - b, x + a, y - b, x + a, y - a, x + b, y - a, x + b, y + a, x + a, y + a, x + a,
        y + b, x - a, y + b, x - a, y + a, x - b, y + a, x - b, y - a, x - a, y - a, style.c_str());
  }
  // Five-pointed star.
  constexpr double kPi = 3.14159265358979323846;
  std::string points;
  for (int k = 0; k < 10; ++k) {
    const double angle = -kPi / 2 + k * kPi / 5;
    const double radius = k % 2 == 0 ? 1.7 * r : 0.7 * r;
    points += format("%s%.1f,%.1f", k == 0 ? "" : " ", x + radius * std::cos(angle),
                     y + radius * std::sin(angle));
  }
  return format("<polygon points=\"%s\" %s/>", points.c_str(), style.c_str());
}

}  // namespace

std::vector<std::size_t> pareto_front_2d(const std::vector<double>& loss,
                                         const std::vector<double>& f1) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < std::min(loss.size(), f1.size()); ++i) {
    if (std::isfinite(loss[i]) && std::isfinite(f1[i])) {
      order.push_back(i);
    }
  }
  // By loss ascending, then F1 descending, then index: a point is on the front when its F1 is
  // strictly above every F1 seen at a lower (or equal) loss.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (loss[a] != loss[b]) {
      return loss[a] < loss[b];
    }
    return f1[a] > f1[b];
  });
  std::vector<std::size_t> front;
  double best_f1 = -std::numeric_limits<double>::infinity();
  for (const std::size_t i : order) {
    if (f1[i] > best_f1) {
      front.push_back(i);
      best_f1 = f1[i];
    }
  }
  return front;
}

std::string format_table(const WorkflowReport& r) {
  std::string out =
      format("%-16s %9s %8s %8s | %9s %8s %8s | %11s %8s\n", "method", "val loss", "val acc",
             "val F1", "test loss", "test acc", "test F1", "evals (new)", "seconds");
  out += std::string(100, '-') + "\n";
  for (const MethodRow& m : r.methods) {
    out += format("%-16s %9s %8s %8s | %9s %8s %8s | %5d (%3d) %8.1f\n", m.method.c_str(),
                  fixed(m.validation.loss).c_str(), fixed(m.validation.accuracy).c_str(),
                  fixed(m.validation.macro_f1).c_str(), fixed(m.test.loss).c_str(),
                  fixed(m.test.accuracy).c_str(), fixed(m.test.macro_f1).c_str(), m.evaluations,
                  m.new_evaluations, m.seconds);
  }
  if (!r.methods.empty()) {
    out += "BOMF delta: [" + join_delta(r.methods.front().delta, ", ", 3) + "]\n";
  }
  return out;
}

std::string format_timings(const WorkflowReport& r) {
  std::string out = format("%-34s %10s %10s\n", "stage", "wall [s]", "CPU [s]");
  for (const StageTime& t : r.stages) {
    out += format("%-34s %10.1f %10.1f\n", t.stage.c_str(), t.wall_seconds, t.cpu_seconds);
  }
  out += format("%-34s %10.1f %10.1f\n", "total", stage_sum(r, &StageTime::wall_seconds),
                stage_sum(r, &StageTime::cpu_seconds));
  const double overhead = r.fusion_fit_seconds + r.fusion_acquisition_seconds;
  out += format(
      "fusion search BO overhead: %.1f s (GP fits %.1f s + log-qNEHVI maximization %.1f s) vs "
      "%.1f s evaluating %zu candidates (%.2f s each); overhead/evaluation = %.2f\n",
      overhead, r.fusion_fit_seconds, r.fusion_acquisition_seconds, r.fusion_evaluation_seconds,
      r.fusion.size(),
      r.fusion.empty() ? 0.0 : r.fusion_evaluation_seconds / static_cast<double>(r.fusion.size()),
      r.fusion_evaluation_seconds > 0 ? overhead / r.fusion_evaluation_seconds : 0.0);
  out += format(
      "stage-1 BO overhead: %.3f s (GP fits + LogEI maximization) vs %.1f s training %zu runs\n",
      r.stage1_overhead_seconds, r.stage1_train_seconds, r.stage1.size());
  return out;
}

std::string markdown_report(const WorkflowReport& r) {
  std::string md = "# supersense: BOMF on WordNet noun supersenses\n\n";
  md += format("Mode **%s**, seed %llu, %d libtorch thread(s)%s.\n\n", r.mode.c_str(),
               static_cast<unsigned long long>(r.seed), r.threads,
               r.journal.empty() ? "" : (", journal `" + r.journal + ".*.jsonl`").c_str());
  md += "* Data: " + r.data_summary + "\n";
  md += "* Model: " + r.model_summary + "\n";
  md += "* Task fingerprint: `" + r.fingerprint + "`\n\n";

  md += "## Results on the test split\n\n";
  md +=
      "Every choice (hyperparameters, members, δ, the baselines' own choices) was made on the "
      "validation split; the test split was used only for this table. Best test value per column "
      "in bold.\n\n";
  md +=
      "| method | how δ was chosen | test loss | test accuracy | test macro-F1 | val loss | val "
      "accuracy | val macro-F1 | evaluations (new) |\n";
  md += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  const int best_loss = best_method(r.methods, &Scores::loss, false);
  const int best_acc = best_method(r.methods, &Scores::accuracy, true);
  const int best_f1 = best_method(r.methods, &Scores::macro_f1, true);
  for (std::size_t i = 0; i < r.methods.size(); ++i) {
    const MethodRow& m = r.methods[i];
    const auto cell = [&](double v, int best) {
      const std::string s = fixed(v);
      return best == static_cast<int>(i) ? "**" + s + "**" : s;
    };
    md += format("| %s | %s | %s | %s | %s | %s | %s | %s | %d (%d) |\n", m.method.c_str(),
                 m.how.c_str(), cell(m.test.loss, best_loss).c_str(),
                 cell(m.test.accuracy, best_acc).c_str(), cell(m.test.macro_f1, best_f1).c_str(),
                 fixed(m.validation.loss).c_str(), fixed(m.validation.accuracy).c_str(),
                 fixed(m.validation.macro_f1).c_str(), m.evaluations, m.new_evaluations);
  }

  md += "\n## Fusion coefficients δ\n\n";
  md += "One row per member (its training step), one column per method.\n\n| member | step |";
  for (const MethodRow& m : r.methods) {
    md += " " + m.method + " |";
  }
  md += "\n|---:|---:|";
  for (std::size_t j = 0; j < r.methods.size(); ++j) {
    md += "---:|";
  }
  md += "\n";
  const std::size_t n = r.methods.empty() ? 0 : r.methods.front().delta.size();
  for (std::size_t i = 0; i < n; ++i) {
    md += format("| %zu | %s |", i + 1,
                 i < r.member_steps.size() ? std::to_string(r.member_steps[i]).c_str() : "?");
    for (const MethodRow& m : r.methods) {
      md += " " + (i < m.delta.size() ? format("%.3f", m.delta[i]) : std::string("?")) + " |";
    }
    md += "\n";
  }

  md += "\n## Stage 1: hyperparameter search (LogEI)\n\n" + r.proxy_summary + "\n\n";
  md +=
      "| run | proposal | learning rate | batch | status | score (F1 + acc) | best step | "
      "train [s] | BO [s] |\n|---:|---|---:|---:|---|---:|---:|---:|---:|\n";
  for (const HyperparameterRow& h : r.stage1) {
    md += format("| %d%s | %s | %.3g | %lld | %s%s | %s | %lld | %.1f | %.4f |\n", h.run,
                 h.run == r.stage1_best ? " (best)" : "", h.proposal.c_str(), h.learning_rate,
                 static_cast<long long>(h.batch_size), h.ok ? "ok" : "failed",
                 h.replayed ? " (journal)" : "", fixed(h.score).c_str(),
                 static_cast<long long>(h.best_step), h.train_seconds, h.overhead_seconds);
  }
  md += format("\nChosen: learning rate %.3g, batch size %lld.\n", r.chosen_learning_rate,
               static_cast<long long>(r.chosen_batch_size));

  md += "\n## Fine-tuning and members\n\n" + r.fine_tune_summary + "\n\n";
  md += "Member steps (paper §4.1: from 50 % of training, evenly spaced):";
  for (const std::int64_t s : r.member_steps) {
    md += " " + std::to_string(s);
  }
  md += format(".\nLast checkpoint on validation: loss %s, accuracy %s, macro-F1 %s.\n",
               fixed(r.final_validation.loss).c_str(), fixed(r.final_validation.accuracy).c_str(),
               fixed(r.final_validation.macro_f1).c_str());

  md += "\n## Stage 2: fusion search (log-qNEHVI)\n\n" + r.fusion_summary + "\n\n";
  int counts[3] = {0, 0, 0};
  int pareto = 0;
  for (const FusionRow& f : r.fusion) {
    counts[f.proposal == "member" ? 0 : f.proposal == "initial" ? 1 : 2] += 1;
    pareto += f.pareto ? 1 : 0;
  }
  md += format(
      "%zu evaluations: %d members, %d quasi-random, %d log-qNEHVI; %d on the Pareto set "
      "(loss, macro-F1, accuracy)%s. Final hypervolume of the normalized objectives: %s.\n\n",
      r.fusion.size(), counts[0], counts[1], counts[2], pareto,
      r.fusion_replayed > 0 ? format("; %d replayed from the journal", r.fusion_replayed).c_str()
                            : "",
      r.fusion.empty() ? "nan" : format("%.5g", r.fusion.back().hypervolume).c_str());
  int blind = 0;
  for (const FusionRow& f : r.fusion) {
    blind += f.blind ? 1 : 0;
  }
  if (blind > 0) {
    md += format(
        "The search was **blind** (hypervolume 0 after the initial design) after %d "
        "evaluation(s).\n\n",
        blind);
  }
  for (const std::string& w : r.fusion_warnings) {
    md += "> **Warning:** " + w + "\n\n";
  }
  md += "![validation Pareto front and hypervolume trace](pareto.svg)\n";

  md += "\n## Time\n\n| stage | wall [s] | CPU [s] |\n|---|---:|---:|\n";
  for (const StageTime& t : r.stages) {
    md += format("| %s | %.1f | %.1f |\n", t.stage.c_str(), t.wall_seconds, t.cpu_seconds);
  }
  md += format("| **total** | %.1f | %.1f |\n\n", stage_sum(r, &StageTime::wall_seconds),
               stage_sum(r, &StageTime::cpu_seconds));
  const double overhead = r.fusion_fit_seconds + r.fusion_acquisition_seconds;
  md += format(
      "BO overhead of the fusion search: %.1f s (GP fitting %.1f s, log-qNEHVI maximization "
      "%.1f s) against %.1f s spent evaluating %zu candidates on the validation split "
      "(overhead/evaluation time = %.2f; search wall time %.1f s). Stage 1: %.3f s of GP "
      "fitting and LogEI maximization against %.1f s of proxy training.\n",
      overhead, r.fusion_fit_seconds, r.fusion_acquisition_seconds, r.fusion_evaluation_seconds,
      r.fusion.size(),
      r.fusion_evaluation_seconds > 0 ? overhead / r.fusion_evaluation_seconds : 0.0,
      r.fusion_total_seconds, r.stage1_overhead_seconds, r.stage1_train_seconds);
  if (r.peak_memory_mib > 0) {
    md += format("Peak memory: %.0f MiB.\n", r.peak_memory_mib);
  }
  md +=
      "\nWall-clock times depend on the load of the machine; CPU times (user + system of this "
      "process) less so.\n";
  return md;
}

std::string results_csv(const WorkflowReport& r) {
  std::string csv =
      "method,val_loss,val_accuracy,val_macro_f1,test_loss,test_accuracy,test_macro_f1,"
      "evaluations,new_evaluations,delta\n";
  for (const MethodRow& m : r.methods) {
    csv += csv_field(m.method) +
           format(",%s,%s,%s,%s,%s,%s,%d,%d,", fixed(m.validation.loss, 6).c_str(),
                  fixed(m.validation.accuracy, 6).c_str(), fixed(m.validation.macro_f1, 6).c_str(),
                  fixed(m.test.loss, 6).c_str(), fixed(m.test.accuracy, 6).c_str(),
                  fixed(m.test.macro_f1, 6).c_str(), m.evaluations, m.new_evaluations) +
           join_delta(m.delta, ";", 6) + "\n";
  }
  return csv;
}

std::string fusion_trace_csv(const WorkflowReport& r) {
  std::string csv =
      "index,proposal,status,reused,replayed,pareto,blind,val_loss,val_accuracy,val_macro_f1,"
      "hypervolume,delta\n";
  for (const FusionRow& f : r.fusion) {
    csv += format("%d,%s,%s,%d,%d,%d,%d,%s,%s,%s,%s,", f.index, f.proposal.c_str(),
                  f.ok ? "ok" : "failed", f.reused ? 1 : 0, f.replayed ? 1 : 0, f.pareto ? 1 : 0,
                  f.blind ? 1 : 0, fixed(f.validation.loss, 6).c_str(),
                  fixed(f.validation.accuracy, 6).c_str(), fixed(f.validation.macro_f1, 6).c_str(),
                  std::isfinite(f.hypervolume) ? format("%.6g", f.hypervolume).c_str() : "nan") +
           join_delta(f.delta, ";", 6) + "\n";
  }
  return csv;
}

std::string timings_csv(const WorkflowReport& r) {
  std::string csv = "stage,wall_seconds,cpu_seconds\n";
  for (const StageTime& t : r.stages) {
    csv += csv_field(t.stage) + format(",%.3f,%.3f\n", t.wall_seconds, t.cpu_seconds);
  }
  csv += format("fusion search: GP fitting,%.3f,nan\n", r.fusion_fit_seconds);
  csv += format("fusion search: acquisition maximization,%.3f,nan\n", r.fusion_acquisition_seconds);
  csv += format("fusion search: candidate evaluations,%.3f,nan\n", r.fusion_evaluation_seconds);
  csv += format("stage 1: GP fitting + acquisition,%.3f,nan\n", r.stage1_overhead_seconds);
  csv += format("stage 1: training runs,%.3f,nan\n", r.stage1_train_seconds);
  return csv;
}

std::string pareto_svg(const WorkflowReport& r) {
  constexpr double kWidth = 1000;
  constexpr double kHeight = 470;
  std::string svg = format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 "
      "%.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      kWidth, kHeight, kWidth, kHeight);

  // Left panel: validation loss (x) vs macro-F1 (y).
  std::vector<double> loss;
  std::vector<double> f1;
  for (const FusionRow& f : r.fusion) {
    loss.push_back(f.ok ? f.validation.loss : std::numeric_limits<double>::quiet_NaN());
    f1.push_back(f.ok ? f.validation.macro_f1 : std::numeric_limits<double>::quiet_NaN());
  }
  std::vector<double> all_loss = loss;
  std::vector<double> all_f1 = f1;
  for (const MethodRow& m : r.methods) {
    all_loss.push_back(m.validation.loss);
    all_f1.push_back(m.validation.macro_f1);
  }
  const auto [lx0, lx1] = padded_range(all_loss);
  const auto [ly0, ly1] = padded_range(all_f1);
  const Panel left{90, 40, 390, 320, lx0, lx1, ly0, ly1};
  draw_axes(svg, left, "Validation objectives of every evaluated δ",
            "validation loss (lower is better)", "validation macro-F1 (higher is better)");

  // The 2-D front (loss, F1) as a staircase.
  const std::vector<std::size_t> front = pareto_front_2d(loss, f1);
  if (!front.empty()) {
    std::string path;
    for (std::size_t k = 0; k < front.size(); ++k) {
      const double x = left.px(loss[front[k]]);
      const double y = left.py(f1[front[k]]);
      if (k == 0) {
        path += format("M %.1f %.1f", x, left.top + left.height);
        path += format(" L %.1f %.1f", x, y);
      } else {
        path += format(" L %.1f %.1f L %.1f %.1f", x, left.py(f1[front[k - 1]]), x, y);
      }
    }
    path += format(" L %.1f %.1f", left.left + left.width, left.py(f1[front.back()]));
    svg += "<path d=\"" + path +
           "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n";
  }
  for (std::size_t i = 0; i < r.fusion.size(); ++i) {
    const FusionRow& f = r.fusion[i];
    if (!f.ok || !std::isfinite(loss[i]) || !std::isfinite(f1[i])) {
      continue;
    }
    const double x = left.px(loss[i]);
    const double y = left.py(f1[i]);
    if (f.proposal == "member") {
      svg += format(
          "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"#333\" "
          "stroke-width=\"1.2\"/>\n",
          x, y, f.pareto ? "#1f77b4" : "none");
    } else {
      svg += format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\" opacity=\"0.8\"/>\n", x,
                    y, f.pareto ? "3.5" : "2.5", f.pareto ? "#1f77b4" : "#aaa");
    }
  }
  // Methods: BOMF drawn last (on top). Methods at the same point (e.g. BOMF choosing a member)
  // would hide each other, so such a group is labelled with all its names.
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < r.methods.size(); ++i) {
    const Scores& v = r.methods[i].validation;
    if (!std::isfinite(v.loss) || !std::isfinite(v.macro_f1)) {
      continue;
    }
    bool placed = false;
    for (auto& g : groups) {
      const Scores& w = r.methods[g.front()].validation;
      if (std::abs(left.px(w.loss) - left.px(v.loss)) < 1.0 &&
          std::abs(left.py(w.macro_f1) - left.py(v.macro_f1)) < 1.0) {
        g.push_back(i);
        placed = true;
        break;
      }
    }
    if (!placed) {
      groups.push_back({i});
    }
  }
  for (auto it = r.methods.rbegin(); it != r.methods.rend(); ++it) {
    if (std::isfinite(it->validation.loss) && std::isfinite(it->validation.macro_f1)) {
      svg += marker_svg(marker_for(it->method), left.px(it->validation.loss),
                        left.py(it->validation.macro_f1), 5.5) +
             "\n";
    }
  }
  for (const auto& g : groups) {
    if (g.size() < 2) {
      continue;
    }
    std::string names;
    for (const std::size_t i : g) {
      names += (names.empty() ? "" : " = ") + r.methods[i].method;
    }
    const Scores& v = r.methods[g.front()].validation;
    const bool right_half = left.px(v.loss) > left.left + left.width / 2;
    svg += format("<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"%s\">%s</text>\n",
                  left.px(v.loss) + (right_half ? -10.0 : 10.0), left.py(v.macro_f1) + 16,
                  right_half ? "end" : "start", xml_escape(names).c_str());
  }

  // Right panel: hypervolume after each evaluation.
  std::vector<double> hv;
  for (const FusionRow& f : r.fusion) {
    hv.push_back(f.hypervolume);
  }
  double hv_max = 0.0;
  for (const double v : hv) {
    hv_max = std::isfinite(v) ? std::max(hv_max, v) : hv_max;
  }
  const double hy0 = 0.0;
  const double hy1 = hv_max > 0.0 ? 1.08 * hv_max : 1e-3;
  const double n = static_cast<double>(std::max<std::size_t>(r.fusion.size(), 1));
  const Panel right{590, 40, 380, 320, 0.0, n + 1.0, hy0, hy1};
  draw_axes(svg, right, "Hypervolume trace of the fusion search", "evaluation",
            "hypervolume (normalized objectives)");
  svg += format(
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" fill=\"#666\">"
      "reference point 0: %s</text>\n",
      right.left + right.width - 4, right.top + right.height - 6,
      xml_escape(r.fusion_reference.empty() ? std::string("see report.md") : r.fusion_reference)
          .c_str());
  std::string phase;
  for (std::size_t i = 0; i < r.fusion.size(); ++i) {
    if (r.fusion[i].proposal != phase) {
      phase = r.fusion[i].proposal;
      const double x = right.px(static_cast<double>(i) + 0.5);
      svg += format(
          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
          "stroke-dasharray=\"3 3\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#666\">%s</text>\n",
          x, right.top, x, right.top + right.height, x + 3, right.top + 14, phase.c_str());
    }
  }
  std::string line;
  for (std::size_t i = 0; i < hv.size(); ++i) {
    if (!std::isfinite(hv[i])) {
      continue;
    }
    line += format("%s%.1f,%.1f", line.empty() ? "" : " ", right.px(static_cast<double>(i + 1)),
                   right.py(hv[i]));
  }
  if (!line.empty()) {
    svg += "<polyline points=\"" + line +
           "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.8\"/>\n";
  }

  // Legend, below both panels.
  double x = 90;
  const double y = 432;
  const auto legend_text = [&](const std::string& text) {
    svg +=
        format("<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 10, y + 4, xml_escape(text).c_str());
    x += 34 + 7.0 * static_cast<double>(text.size());
  };
  svg += format(
      "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"none\" stroke=\"#333\" "
      "stroke-width=\"1.2\"/>\n",
      x, y);
  legend_text("member");
  svg += format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#aaa\"/>\n", x, y);
  legend_text("search point");
  svg += format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#1f77b4\"/>\n", x, y);
  legend_text("Pareto set (3 objectives)");
  svg += format(
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1f77b4\" "
      "stroke-dasharray=\"4 3\" stroke-width=\"1.5\"/>\n",
      x - 6, y, x + 6, y);
  legend_text("front (loss, F1)");
  x = 90;
  const double y2 = y + 22;
  for (const MethodRow& m : r.methods) {
    svg += marker_svg(marker_for(m.method), x, y2, 5) + "\n";
    svg += format("<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 10, y2 + 4,
                  xml_escape(m.method).c_str());
    x += 34 + 7.0 * static_cast<double>(m.method.size());
  }
  svg += "</svg>\n";
  return svg;
}

std::vector<std::string> write_report_files(const WorkflowReport& report,
                                            const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    throw bomf::io_error("supersense: cannot create the output directory '" + directory +
                         "': " + error.message());
  }
  const std::vector<std::pair<std::string, std::string>> files = {
      {"report.md", markdown_report(report)},
      {"results.csv", results_csv(report)},
      {"fusion_trace.csv", fusion_trace_csv(report)},
      {"timings.csv", timings_csv(report)},
      {"pareto.svg", pareto_svg(report)},
  };
  std::vector<std::string> paths;
  for (const auto& [name, contents] : files) {
    const std::string path = (std::filesystem::path(directory) / name).string();
    write_text_file(path, contents);
    paths.push_back(path);
  }
  return paths;
}

}  // namespace supersense
