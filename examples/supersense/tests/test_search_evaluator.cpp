// End to end: `bomf search` with the flagship model as its evaluator, a separate C++ process.
// `bomf_supersense_evaluator write-members` fine-tunes the smoke-size supersense classifier for a
// few steps and writes 3 members as safetensors files; `bomf search` fuses them for each δ and
// runs `bomf_supersense_evaluator evaluate --weights {weights}` (2 quasi-random δ and 2
// iterations after the members). Checks: status 0, every evaluation ok in the journal, the chosen
// fused checkpoint exists, BOMF's δ and loss in methods.csv are a journaled evaluation's, and
// re-evaluating fused.safetensors with the evaluator gives that loss again (to 1e-9 relative).
// Bad inputs of the evaluator (a missing file, a checkpoint of another model) exit non-zero with
// a message and an `error` answer.
//
// Skipped (GTEST_SKIP, reported by ctest as "Skipped") when the data of scripts/fetch-data.sh is
// absent: the evaluator then exits with status 77.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "text_files.hpp"

#ifndef BOMF_EXECUTABLE
#error "BOMF_EXECUTABLE must name the bomf executable"
#endif
#ifndef BOMF_SUPERSENSE_EVALUATOR
#error "BOMF_SUPERSENSE_EVALUATOR must name the bomf_supersense_evaluator executable"
#endif

namespace {

namespace fs = std::filesystem;

using supersense::test::read_file;
using supersense::test::split;

/// Single-quoted for /bin/sh.
std::string q(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

struct Outcome {
  int status = -1;  ///< exit status; −1 when the command did not exit normally
  std::string out;
  std::string err;
};

/// Runs `command` by /bin/sh with its standard output and error into files of `dir`.
Outcome run(const std::string& command, const fs::path& dir) {
  const fs::path out = dir / "stdout.txt";
  const fs::path err = dir / "stderr.txt";
  const int status =
      std::system((command + " > " + q(out.string()) + " 2> " + q(err.string())).c_str());
  Outcome r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

/// The last non-blank line of `text`, parsed as JSON (a discarded value when it is not JSON).
nlohmann::json last_json_line(const std::string& text) {
  const std::vector<std::string> lines = split(text, '\n');
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->find_first_not_of(" \t\r") != std::string::npos) {
      return nlohmann::json::parse(*it, nullptr, false);
    }
  }
  return nlohmann::json::value_t::discarded;
}

TEST(SupersenseSearchEvaluator, BomfSearchFusesTheFlagshipModelWithACppEvaluator) {
  std::string pattern = ::testing::TempDir() + "/bomf-supersense-search-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp failed";
  const fs::path dir = pattern;
  const std::string evaluator = q(BOMF_SUPERSENSE_EVALUATOR);

  // 1. Three members of the smoke-size model.
  fs::create_directories(dir / "members");
  const Outcome trained = run(evaluator + " write-members --out " + q((dir / "members").string()) +
                                  " --members 3 --steps 24 --seed 0",
                              dir);
  if (trained.status == 77) {
    fs::remove_all(dir);
    GTEST_SKIP() << "the example's data is absent (run scripts/fetch-data.sh): " << trained.err;
  }
  ASSERT_EQ(trained.status, 0) << trained.err;
  const std::vector<std::string> members = split(trained.out, '\n');
  ASSERT_EQ(members.size(), 3u) << trained.out;
  std::string member_arguments;
  for (const std::string& m : members) {
    ASSERT_TRUE(fs::is_regular_file(m)) << m;
    member_arguments += " " + q(m);
  }

  // 2. The search, the evaluator a separate process per δ.
  const fs::path out = dir / "out";
  const std::string evaluate = evaluator + " evaluate --weights {weights}";
  const Outcome search = run(q(BOMF_EXECUTABLE) + " search" + member_arguments +
                                 " --objective loss:loss --objective macro_f1:metric"
                                 " --objective accuracy:metric --num-initial 2 --num-iterations 2"
                                 " --baselines none -q -o " +
                                 q(out.string()) + " --evaluate " + q(evaluate),
                             dir);
  ASSERT_EQ(search.status, 0) << search.err;

  // 3. Every evaluation ok; the fused checkpoint written.
  std::vector<nlohmann::json> evaluations;
  for (const std::string& line : split(read_file(out / "journal.jsonl"), '\n')) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_object() && record.value("kind", std::string()) == "evaluation") {
      evaluations.push_back(record);
    }
  }
  EXPECT_GE(evaluations.size(), 7u) << "3 members + 2 initial + 2 iterations";
  for (const nlohmann::json& record : evaluations) {
    EXPECT_EQ(record.value("status", std::string()), "ok") << record.dump();
  }
  const fs::path fused = out / "fused.safetensors";
  ASSERT_TRUE(fs::is_regular_file(fused));

  // 4. BOMF's row of methods.csv: a journaled evaluation's δ and loss.
  std::vector<std::string> bomf_row;
  for (const std::string& line : split(read_file(out / "methods.csv"), '\n')) {
    if (line.rfind("BOMF,", 0) == 0) {
      bomf_row = split(line, ',');
    }
  }
  // method, available, loss, macro_f1, accuracy, delta_1..3, how
  ASSERT_GE(bomf_row.size(), 8u);
  ASSERT_EQ(bomf_row[1], "true");
  const double reported_loss = std::stod(bomf_row[2]);
  const std::vector<double> chosen = {std::stod(bomf_row[5]), std::stod(bomf_row[6]),
                                      std::stod(bomf_row[7])};
  const nlohmann::json* chosen_record = nullptr;
  for (const nlohmann::json& record : evaluations) {
    const auto delta = record.at("delta").get<std::vector<double>>();
    bool same = delta.size() == chosen.size();
    for (std::size_t i = 0; same && i < delta.size(); ++i) {
      same = std::abs(delta[i] - chosen[i]) <= 1e-15;
    }
    if (same) {
      chosen_record = &record;
    }
  }
  ASSERT_NE(chosen_record, nullptr) << "BOMF's δ is not in the journal: " << bomf_row[5] << ","
                                    << bomf_row[6] << "," << bomf_row[7];
  const double journal_loss = chosen_record->at("loss").get<double>();
  EXPECT_DOUBLE_EQ(reported_loss, journal_loss);

  // 5. The fused checkpoint, re-evaluated by the evaluator, scores what the search recorded.
  const Outcome again = run(evaluator + " evaluate --weights " + q(fused.string()), dir);
  ASSERT_EQ(again.status, 0) << again.err;
  const nlohmann::json answer = last_json_line(again.out);
  ASSERT_TRUE(answer.is_object()) << again.out;
  EXPECT_EQ(answer.at("bomf_protocol"), 1);
  const double loss = answer.at("loss").get<double>();
  EXPECT_LE(std::abs(loss - journal_loss), 1e-9 * std::abs(journal_loss))
      << "re-evaluated " << loss << ", journaled " << journal_loss;
  EXPECT_NEAR(answer.at("metrics").at("macro_f1").get<double>(),
              chosen_record->at("metrics").at(0).get<double>(), 1e-12);
  EXPECT_NEAR(answer.at("metrics").at("accuracy").get<double>(),
              chosen_record->at("metrics").at(1).get<double>(), 1e-12);

  // 6. Bad inputs: a clear error, a non-zero status, an `error` answer.
  const Outcome absent =
      run(evaluator + " evaluate --weights " + q((dir / "absent").string()), dir);
  EXPECT_NE(absent.status, 0);
  EXPECT_NE(absent.err.find("absent"), std::string::npos) << absent.err;
  EXPECT_TRUE(last_json_line(absent.out).contains("error")) << absent.out;
  const Outcome journal_as_weights =
      run(evaluator + " evaluate --weights " + q((out / "journal.jsonl").string()), dir);
  EXPECT_NE(journal_as_weights.status, 0);
  EXPECT_TRUE(last_json_line(journal_as_weights.out).contains("error")) << journal_as_weights.out;
  const Outcome no_weights = run(evaluator + " evaluate", dir);
  EXPECT_EQ(no_weights.status, 2) << no_weights.err;

  if (!::testing::Test::HasFailure()) {
    fs::remove_all(dir);
  } else {
    std::printf("kept %s for inspection; search stderr:\n%s\n", dir.c_str(), search.err.c_str());
  }
}

// `bomf report` on the flagship's own fusion journal (`bomf_supersense --journal`): the report
// replays the search and finds the δ and validation values the flagship reported for BOMF.
TEST(SupersenseSearchEvaluator, BomfReportReadsTheFlagshipsJournal) {
  std::string pattern = ::testing::TempDir() + "/bomf-supersense-report-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp failed";
  const fs::path dir = pattern;
  const Outcome flagship =
      run(q(BOMF_SUPERSENSE_BINARY) + " --smoke --no-progress --journal " +
              q((dir / "run").string()) + " --output-dir " + q((dir / "flagship").string()),
          dir);
  if (flagship.status == 77) {
    fs::remove_all(dir);
    GTEST_SKIP() << "the example's data is absent (run scripts/fetch-data.sh): " << flagship.err;
  }
  ASSERT_EQ(flagship.status, 0) << flagship.err;
  const Outcome report =
      run(q(BOMF_EXECUTABLE) + " report " + q((dir / "run.fusion.jsonl").string()) + " -o " +
              q((dir / "report").string()),
          dir);
  ASSERT_EQ(report.status, 0) << report.err;
  EXPECT_TRUE(fs::exists(dir / "report" / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "report" / "report.svg"));

  // The flagship's BOMF row: method,val_loss,val_accuracy,val_macro_f1,…,delta (';'-separated).
  std::vector<std::string> flagship_bomf;
  for (const std::string& line : split(read_file(dir / "flagship" / "results.csv"), '\n')) {
    if (line.rfind("BOMF,", 0) == 0)
      flagship_bomf = split(line, ',');
  }
  ASSERT_EQ(flagship_bomf.size(), 10u) << read_file(dir / "flagship" / "results.csv");
  const std::vector<std::string> flagship_delta = split(flagship_bomf[9], ';');
  // The report's BOMF row: method,available,loss,macro_f1,accuracy,delta_1…delta_N,how.
  std::vector<std::string> report_bomf;
  for (const std::string& line : split(read_file(dir / "report" / "methods.csv"), '\n')) {
    if (line.rfind("BOMF,", 0) == 0)
      report_bomf = split(line, ',');
  }
  ASSERT_GE(report_bomf.size(), 5u + flagship_delta.size())
      << read_file(dir / "report" / "methods.csv");
  EXPECT_EQ(report_bomf[1], "true");
  EXPECT_NEAR(std::stod(report_bomf[2]), std::stod(flagship_bomf[1]), 1e-6);  // validation loss
  EXPECT_NEAR(std::stod(report_bomf[3]), std::stod(flagship_bomf[3]), 1e-6);  // macro-F1
  EXPECT_NEAR(std::stod(report_bomf[4]), std::stod(flagship_bomf[2]), 1e-6);  // accuracy
  for (std::size_t i = 0; i < flagship_delta.size(); ++i) {
    EXPECT_NEAR(std::stod(report_bomf[5 + i]), std::stod(flagship_delta[i]), 1e-5) << "δ_" << i + 1;
  }
  if (!::testing::Test::HasFailure())
    fs::remove_all(dir);
}

}  // namespace
