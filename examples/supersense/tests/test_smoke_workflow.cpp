// End-to-end test of the flagship example: runs `bomf_supersense --smoke` into a fresh temporary
// directory and checks that the workflow ran through and wrote a valid report — every method
// in the table with finite validation and test values, every δ on the simplex, the fusion trace
// and the SVG present. It does NOT check that BOMF won (that is a statement about full runs).
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

#ifndef BOMF_SUPERSENSE_BINARY
#error "BOMF_SUPERSENSE_BINARY must name the bomf_supersense executable"
#endif

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> split(const std::string& s, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, separator)) {
    parts.push_back(part);
  }
  return parts;
}

std::string tail(const std::string& s, std::size_t n = 4000) {
  return s.size() <= n ? s : "…" + s.substr(s.size() - n);
}

double number(const std::string& cell) {
  std::size_t used = 0;
  const double v = std::stod(cell, &used);
  EXPECT_EQ(used, cell.size()) << "not a number: '" << cell << "'";
  return v;
}

TEST(SupersenseSmoke, RunsEndToEndAndWritesAValidReport) {
  std::string pattern = ::testing::TempDir() + "/bomf-supersense-smoke-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp failed";
  const std::filesystem::path dir = pattern;
  const std::filesystem::path log = dir / "run.log";
  const std::string command = std::string("'") + BOMF_SUPERSENSE_BINARY +
                              "' --smoke --seed 0 --threads 1 --output-dir '" +
                              (dir / "report").string() + "' > '" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << "bomf_supersense did not exit normally";
  const int code = WEXITSTATUS(status);
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
    ASSERT_EQ(cells.size(), 11u) << trace[i];
    acquisition += cells[1] == "acquisition" ? 1 : 0;
    if (i >= 6) {
      EXPECT_TRUE(std::isfinite(number(cells[9]))) << trace[i];
    }
  }
  EXPECT_EQ(acquisition, 4);

  const std::string md = read_file(report / "report.md");
  EXPECT_NE(md.find("## Results on the test split"), std::string::npos);
  EXPECT_NE(md.find("| BOMF |"), std::string::npos);
  const std::string svg = read_file(report / "pareto.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);

  if (!::testing::Test::HasFailure()) {
    std::filesystem::remove_all(dir);
  } else {
    std::printf("kept %s for inspection; program output:\n%s\n", dir.c_str(), tail(output).c_str());
  }
}

}  // namespace
