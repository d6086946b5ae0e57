// Tests of the workflow's report writers (report.hpp) and progress output (progress.hpp) on
// synthetic reports: no data, no libtorch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "progress.hpp"
#include "report.hpp"
#include "text_files.hpp"

namespace supersense {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

using supersense::test::split;

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = haystack.find(needle); p != std::string::npos;
       p = haystack.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

/// A report with `n` members, some search points (one failed) and the six methods.
WorkflowReport synthetic_report(int n = 4) {
  WorkflowReport r;
  r.mode = "smoke";
  r.seed = 3;
  r.data_summary = "data";
  r.model_summary = "model";
  r.fingerprint = "fp";
  r.stage1 = {{1, "initial", 1e-3, 32, true, false, 1.4, 10, 2.0, 0.0},
              {2, "acquisition", 3e-3, 64, false, false, kNan, -1, 1.0, 0.5}};
  r.stage1_best = 1;
  r.chosen_learning_rate = 1e-3;
  r.chosen_batch_size = 32;
  for (int i = 0; i < n; ++i) {
    r.member_steps.push_back(10 * (i + 1));
  }
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int total = n + 6;
  for (int i = 0; i < total; ++i) {
    FusionRow f;
    f.index = i;
    f.proposal = i < n ? "member" : i < n + 2 ? "initial" : "acquisition";
    f.ok = i != n + 3;
    f.delta.assign(static_cast<std::size_t>(n), 1.0 / n);
    if (f.ok) {
      f.validation = {0.7 + 0.2 * u(rng), 0.7 + 0.1 * u(rng), 0.6 + 0.1 * u(rng)};
    }
    f.pareto = f.ok && i % 3 == 0;
    f.hypervolume = i < n - 1 ? kNan : 0.01 * i;
    r.fusion.push_back(f);
  }
  const char* names[] = {"BOMF", "Best member", "Last checkpoint",
                         "SWA",  "Greedy SWA",  "Learned SWA"};
  for (int k = 0; k < 6; ++k) {
    MethodRow m;
    m.method = names[k];
    m.how = "how, with a comma";
    m.delta.assign(static_cast<std::size_t>(n), 0.0);
    m.delta[static_cast<std::size_t>(k % n)] = 1.0;
    m.validation = {0.7 + 0.01 * k, 0.75, 0.65 + 0.01 * k};
    m.test = {0.72 + 0.01 * k, 0.74 - 0.01 * k, 0.64};
    m.evaluations = k + 1;
    r.methods.push_back(m);
  }
  r.stages = {{"data loading", 1.0, 0.5}, {"stage 1", 10.0, 4.0}};
  return r;
}

TEST(ParetoFront2d, EveryPointIsOnTheFrontOrDominatedByIt) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int repeat = 0; repeat < 20; ++repeat) {
    std::vector<double> loss;
    std::vector<double> f1;
    for (int i = 0; i < 40; ++i) {
      // Rounded values create ties; a few NaNs must be ignored.
      loss.push_back(i % 13 == 5 ? kNan : std::round(10 * u(rng)) / 10);
      f1.push_back(std::round(10 * u(rng)) / 10);
    }
    const std::vector<std::size_t> front = pareto_front_2d(loss, f1);
    ASSERT_FALSE(front.empty());
    const auto dominates = [&](std::size_t a, std::size_t b) {
      return loss[a] <= loss[b] && f1[a] >= f1[b] && (loss[a] < loss[b] || f1[a] > f1[b]);
    };
    for (std::size_t k = 0; k < front.size(); ++k) {
      EXPECT_TRUE(std::isfinite(loss[front[k]]));
      if (k > 0) {
        EXPECT_LT(loss[front[k - 1]], loss[front[k]]);  // sorted by loss, strictly
        EXPECT_LT(f1[front[k - 1]], f1[front[k]]);
      }
      for (std::size_t j = 0; j < loss.size(); ++j) {
        if (std::isfinite(loss[j])) {
          EXPECT_FALSE(dominates(j, front[k]))
              << "front point " << front[k] << " dominated by " << j;
        }
      }
    }
    for (std::size_t j = 0; j < loss.size(); ++j) {
      if (!std::isfinite(loss[j])) {
        continue;
      }
      bool covered = false;
      for (const std::size_t i : front) {
        covered = covered || i == j || dominates(i, j) || (loss[i] == loss[j] && f1[i] == f1[j]);
      }
      EXPECT_TRUE(covered) << "point " << j << " neither on the front nor dominated";
    }
  }
}

TEST(ParetoFront2d, EmptyAndAllNan) {
  EXPECT_TRUE(pareto_front_2d({}, {}).empty());
  EXPECT_TRUE(pareto_front_2d({kNan, 1.0}, {0.5, kNan}).empty());
}

TEST(ResultsCsv, OneRowPerMethodWithAllColumns) {
  const WorkflowReport r = synthetic_report();
  const std::vector<std::string> lines = split(results_csv(r), '\n');
  ASSERT_EQ(lines.size(), r.methods.size() + 1);
  const std::size_t columns = split(lines[0], ',').size();
  EXPECT_EQ(columns, 10u);
  for (std::size_t i = 0; i < r.methods.size(); ++i) {
    const std::vector<std::string> cells = split(lines[i + 1], ',');
    ASSERT_EQ(cells.size(), columns) << lines[i + 1];
    EXPECT_EQ(cells[0], r.methods[i].method);
    EXPECT_NEAR(std::stod(cells[4]), r.methods[i].test.loss, 1e-6);
    const std::vector<std::string> delta = split(cells[9], ';');
    ASSERT_EQ(delta.size(), r.methods[i].delta.size());
    for (std::size_t k = 0; k < delta.size(); ++k) {
      EXPECT_DOUBLE_EQ(std::stod(delta[k]), r.methods[i].delta[k]);
    }
  }
}

TEST(ResultsCsv, QuotesFieldsWithCommasAndWritesNan) {
  WorkflowReport r = synthetic_report();
  r.methods[0].method = "A, \"B\"";
  r.methods[0].test.loss = kNan;
  const std::string csv = results_csv(r);
  EXPECT_NE(csv.find("\"A, \"\"B\"\"\","), std::string::npos) << csv;
  EXPECT_NE(csv.find(",nan,"), std::string::npos);
}

TEST(FusionTraceCsv, OneRowPerEvaluation) {
  const WorkflowReport r = synthetic_report();
  const std::vector<std::string> lines = split(fusion_trace_csv(r), '\n');
  ASSERT_EQ(lines.size(), r.fusion.size() + 1);
  EXPECT_NE(lines[1].find(",member,ok,"), std::string::npos);
  EXPECT_EQ(count(fusion_trace_csv(r), ",failed,"), 1u);
}

TEST(ParetoSvg, IsCompleteAndHasNoNonFiniteCoordinates) {
  WorkflowReport r = synthetic_report();
  r.methods[5].validation.loss = kNan;  // a method without a value is left out, not drawn at NaN
  const std::string svg = pareto_svg(r);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>\n"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
  // Balanced text elements; every method named in the legend.
  EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  for (const MethodRow& m : r.methods) {
    EXPECT_NE(svg.find(">" + m.method + "<"), std::string::npos) << m.method;
  }
  // One circle per member, filled when on the Pareto set (members 0 and 3 here), plus the
  // legend's hollow one.
  EXPECT_EQ(count(svg, "r=\"4\" fill=\"none\" stroke=\"#333\""), 2u + 1u);
  EXPECT_EQ(count(svg, "r=\"4\" fill=\"#1f77b4\" stroke=\"#333\""), 2u);
}

TEST(ParetoSvg, HandlesAnEmptyReport) {
  const std::string svg = pareto_svg(WorkflowReport{});
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(MarkdownReport, NamesEveryMethodAndBoldsTheBestTestValues) {
  const WorkflowReport r = synthetic_report();
  const std::string md = markdown_report(r);
  for (const MethodRow& m : r.methods) {
    EXPECT_NE(md.find("| " + m.method + " |"), std::string::npos) << m.method;
  }
  // Lowest test loss: BOMF (0.7200); highest accuracy: BOMF (0.7400); F1 ties: the first.
  EXPECT_NE(md.find("**0.7200**"), std::string::npos);
  EXPECT_NE(md.find("**0.7400**"), std::string::npos);
  EXPECT_EQ(count(md, "**0.6400**"), 1u);
  EXPECT_NE(md.find("pareto.svg"), std::string::npos);
}

TEST(FormatTable, OneLinePerMethod) {
  const WorkflowReport r = synthetic_report();
  const std::string table = format_table(r);
  for (const MethodRow& m : r.methods) {
    const std::string padded = "\n" + m.method + std::string(16 - m.method.size(), ' ') + " ";
    EXPECT_EQ(count(table, padded), 1u) << table;
  }
  EXPECT_NE(table.find("BOMF delta: [1, 0, 0, 0]"), std::string::npos) << table;
}

TEST(WriteReportFiles, WritesFiveFiles) {
  const std::string dir = ::testing::TempDir() + "/supersense-report-test";
  std::filesystem::remove_all(dir);
  const std::vector<std::string> paths = write_report_files(synthetic_report(), dir);
  ASSERT_EQ(paths.size(), 5u);
  for (const std::string& p : paths) {
    EXPECT_GT(std::filesystem::file_size(p), 0u) << p;
  }
  std::filesystem::remove_all(dir);
}

TEST(FormatDuration, MinutesHoursAndInvalid) {
  EXPECT_EQ(format_duration(0), "00:00");
  EXPECT_EQ(format_duration(75.4), "01:15");
  EXPECT_EQ(format_duration(3725), "1:02:05");
  EXPECT_EQ(format_duration(-1), "--:--");
  EXPECT_EQ(format_duration(kNan), "--:--");
}

TEST(Progress, PlainLinesOutsideATerminal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress progress(f, /*terminal=*/false, /*enabled=*/true, /*line_interval_seconds=*/1e9);
  progress.start("task", 10);
  for (int i = 1; i <= 10; ++i) {
    progress.update(i, "detail");
  }
  progress.finish("done");
  std::rewind(f);
  char buffer[256] = {};
  const std::size_t read = std::fread(buffer, 1, sizeof buffer - 1, f);
  std::fclose(f);
  const std::string out(buffer, read);
  // Only the final line (the interval is never reached), without carriage returns.
  EXPECT_EQ(count(out, "\n"), 1u) << out;
  EXPECT_NE(out.find("task: 10/10 (100%)"), std::string::npos) << out;
  EXPECT_NE(out.find("done"), std::string::npos);
  EXPECT_EQ(out.find('\r'), std::string::npos);
}

TEST(Progress, DisabledPrintsNothing) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress progress(f, true, /*enabled=*/false);
  progress.start("task", 3);
  progress.update(2);
  progress.finish();
  EXPECT_EQ(std::ftell(f), 0L);
  std::fclose(f);
}

}  // namespace
}  // namespace supersense
