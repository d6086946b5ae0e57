// End-to-end tests of the flagship example: runs `bomf_supersense --smoke` into a fresh temporary
// directory and checks that the workflow ran through and wrote a valid report — every method
// in the table with finite validation and test values, every δ on the simplex, the fusion trace
// and the SVG present. It does NOT check that BOMF won (that is a statement about full runs).
// The study program (`bomf_supersense_study`) gets the same kind of check on one seed of one
// task with tiny budgets, plus its resumption: a rerun skips a finished pair, and a pair whose
// result file is gone is redone from the journals with the same numbers.
//
// Skipped (GTEST_SKIP, reported by ctest as "Skipped") when the data of scripts/fetch-data.sh is
// absent: the program then exits with status 77.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "text_files.hpp"

#ifndef BOMF_SUPERSENSE_BINARY
#error "BOMF_SUPERSENSE_BINARY must name the bomf_supersense executable"
#endif
#ifndef BOMF_SUPERSENSE_STUDY_BINARY
#error "BOMF_SUPERSENSE_STUDY_BINARY must name the bomf_supersense_study executable"
#endif

namespace {

using supersense::test::read_file;
using supersense::test::split;

std::string tail(const std::string& s, std::size_t n = 4000) {
  return s.size() <= n ? s : "…" + s.substr(s.size() - n);
}

double number(const std::string& cell) {
  std::size_t used = 0;
  const double v = std::stod(cell, &used);
  EXPECT_EQ(used, cell.size()) << "not a number: '" << cell << "'";
  return v;
}

/// A fresh temporary directory.
std::filesystem::path temporary_directory(const char* name) {
  std::string pattern = ::testing::TempDir() + "/" + name + "-XXXXXX";
  EXPECT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp failed";
  return pattern;
}

/// Runs `binary arguments` with its output into `log`; returns the exit status (−1 when it did
/// not exit normally).
int run(const char* binary, const std::string& arguments, const std::filesystem::path& log) {
  const std::string command =
      std::string("'") + binary + "' " + arguments + " > '" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Removes `dir` unless the test failed (then says where it is, with the program output).
void clean_up(const std::filesystem::path& dir, const std::string& output) {
  if (!::testing::Test::HasFailure()) {
    std::filesystem::remove_all(dir);
  } else {
    std::printf("kept %s for inspection; program output:\n%s\n", dir.c_str(), tail(output).c_str());
  }
}

TEST(SupersenseSmoke, RunsEndToEndAndWritesAValidReport) {
  const std::filesystem::path dir = temporary_directory("bomf-supersense-smoke");
  const std::filesystem::path log = dir / "run.log";
  const int code =
      run(BOMF_SUPERSENSE_BINARY,
          "--smoke --seed 0 --threads 1 --output-dir '" + (dir / "report").string() + "'", log);
  const std::string output = read_file(log);
  if (code == 77) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "the example's data is absent (run scripts/fetch-data.sh): " << output;
  }
  ASSERT_EQ(code, 0) << "bomf_supersense --smoke failed:\n" << tail(output);

  const std::filesystem::path report = dir / "report";
  for (const char* name :
       {"report.md", "results.csv", "fusion_trace.csv", "timings.csv", "pareto.svg"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(report / name)) << name;
    EXPECT_GT(std::filesystem::file_size(report / name), 0u) << name;
  }

  // results.csv: the six methods, finite values in range, δ on the simplex of N = 6 members.
  const std::vector<std::string> lines = split(read_file(report / "results.csv"), '\n');
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "method,val_loss,val_accuracy,val_macro_f1,test_loss,test_accuracy,test_macro_f1,"
            "evaluations,new_evaluations,delta");
  std::map<std::string, std::vector<std::string>> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> cells = split(lines[i], ',');
    ASSERT_EQ(cells.size(), 10u) << lines[i];
    rows[cells[0]] = cells;
  }
  for (const char* method :
       {"BOMF", "Best member", "Last checkpoint", "SWA", "Greedy SWA", "Learned SWA"}) {
    ASSERT_EQ(rows.count(method), 1u) << "no row for " << method;
    const std::vector<std::string>& cells = rows[method];
    for (int c = 1; c <= 6; ++c) {
      const double v = number(cells[static_cast<std::size_t>(c)]);
      EXPECT_TRUE(std::isfinite(v)) << method << " column " << c;
      if (c == 1 || c == 4) {
        EXPECT_GT(v, 0.0) << method << " loss";
      } else {
        EXPECT_GE(v, 0.0) << method << " column " << c;
        EXPECT_LE(v, 1.0) << method << " column " << c;
      }
    }
    EXPECT_GE(number(cells[7]), 1.0) << method << " evaluations";
    const std::vector<std::string> delta = split(cells[9], ';');
    EXPECT_EQ(delta.size(), 6u) << method << " δ: " << cells[9];
    double sum = 0;
    for (const std::string& d : delta) {
      const double v = number(d);
      EXPECT_GE(v, 0.0) << method << " δ";
      sum += v;
    }
    EXPECT_NEAR(sum, 1.0, 1e-4) << method << " δ: " << cells[9];
  }
  EXPECT_EQ(rows.size(), 6u);

  // fusion_trace.csv: 12 evaluations (6 members, 2 initial, 4 log-qNEHVI), finite hypervolume
  // once the members are known.
  const std::vector<std::string> trace = split(read_file(report / "fusion_trace.csv"), '\n');
  ASSERT_EQ(trace.size(), 13u) << read_file(report / "fusion_trace.csv");
  int acquisition = 0;
  for (std::size_t i = 1; i < trace.size(); ++i) {
    const std::vector<std::string> cells = split(trace[i], ',');
    ASSERT_EQ(cells.size(), 12u) << trace[i];
    acquisition += cells[1] == "acquisition" ? 1 : 0;
    if (i >= 6) {
      EXPECT_TRUE(std::isfinite(number(cells[10]))) << trace[i];
    }
  }
  EXPECT_EQ(acquisition, 4);

  const std::string md = read_file(report / "report.md");
  EXPECT_NE(md.find("## Results on the test split"), std::string::npos);
  EXPECT_NE(md.find("| BOMF |"), std::string::npos);
  // The normalization actually used is stated (the library default: the worst member).
  EXPECT_NE(md.find("reference point 0 = the worst member's value of each objective"),
            std::string::npos);
  const std::string svg = read_file(report / "pareto.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  clean_up(dir, output);
}

TEST(SupersenseStudySmoke, RunsOnePairWritesItsFilesAndResumes) {
  const std::filesystem::path dir = temporary_directory("bomf-supersense-study");
  const std::filesystem::path results = dir / "results";
  const std::string arguments =
      "--smoke --seeds 1 --tasks food --members 4 --stage1-iterations 0 "
      "--fusion-iterations 3 --learned-swa-steps 2 --threads 1 "
      "--no-progress --results-dir '" +
      results.string() + "' --work-dir '" + (dir / "work").string() + "'";
  const int code = run(BOMF_SUPERSENSE_STUDY_BINARY, arguments, dir / "run.log");
  std::string output = read_file(dir / "run.log");
  if (code == 77) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "the example's data is absent (run scripts/fetch-data.sh): " << output;
  }
  ASSERT_EQ(code, 0) << "bomf_supersense_study --smoke failed:\n" << tail(output);
  for (const char* name : {"food-seed0-methods.csv", "food-seed0-searches.csv",
                           "food-seed0-trace.csv", "food-seed0-run.json"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(results / name)) << name;
  }

  // methods.csv: 3 anchor configurations × 2 selection rules + 5 baselines, finite scores on
  // the three splits, δ on the simplex of 4 members.
  const std::string methods = read_file(results / "food-seed0-methods.csv");
  const std::vector<std::string> lines = split(methods, '\n');
  ASSERT_EQ(lines.size(), 12u) << methods;
  EXPECT_EQ(lines[0].rfind("task,seed,metric_name,method,anchor,rule,val_loss", 0), 0u);
  int bomf = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> cells = split(lines[i], ',');
    ASSERT_EQ(cells.size(), 19u) << lines[i];
    EXPECT_EQ(cells[2], "f1_noun.food");
    bomf += cells[3] == "BOMF" ? 1 : 0;
    for (int c = 6; c <= 14; ++c) {
      EXPECT_TRUE(std::isfinite(number(cells[static_cast<std::size_t>(c)]))) << lines[i];
    }
    double sum = 0;
    for (const std::string& d : split(cells[18], ';')) {
      sum += number(d);
    }
    EXPECT_NEAR(sum, 1.0, 1e-4) << lines[i];
  }
  EXPECT_EQ(bomf, 6);
  // searches.csv: one row per anchor configuration, each with 4 members + 2 initial (smoke) + 3.
  const std::vector<std::string> searches =
      split(read_file(results / "food-seed0-searches.csv"), '\n');
  ASSERT_EQ(searches.size(), 4u);
  for (std::size_t i = 1; i < searches.size(); ++i) {
    EXPECT_EQ(split(searches[i], ',')[3], "9") << searches[i];
  }

  // A rerun skips the finished pair; without its result file, the pair is redone from the
  // journals and gives the same numbers.
  ASSERT_EQ(run(BOMF_SUPERSENSE_STUDY_BINARY, arguments, dir / "rerun.log"), 0);
  EXPECT_NE(read_file(dir / "rerun.log").find("done already, skipped"), std::string::npos);
  std::filesystem::remove(results / "food-seed0-methods.csv");
  ASSERT_EQ(run(BOMF_SUPERSENSE_STUDY_BINARY, arguments, dir / "resume.log"), 0)
      << tail(read_file(dir / "resume.log"));
  output = read_file(dir / "resume.log");
  EXPECT_NE(output.find("replayed from the journal"), std::string::npos);
  // (new_evaluations, column 16, differs: the journal answers what was evaluated before.)
  const std::vector<std::string> resumed =
      split(read_file(results / "food-seed0-methods.csv"), '\n');
  ASSERT_EQ(resumed.size(), lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> a = split(lines[i], ',');
    std::vector<std::string> b = split(resumed[i], ',');
    ASSERT_EQ(a.size(), b.size());
    a.erase(a.begin() + 16);
    b.erase(b.begin() + 16);
    EXPECT_EQ(a, b) << "row " << i;
  }
  clean_up(dir, output);
}

}  // namespace
