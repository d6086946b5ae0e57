// The report of a fusion journal (cli/report.hpp): BOMF and the baselines found in the ledger
// exactly as the library computed them, missing ones reported as missing (never guessed), and
// the Markdown, CSV and SVG writers (quoting, escaping, ticks).
#include <gtest/gtest.h>

#include <string>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "cli/arguments.hpp"
#include "cli/report.hpp"
#include "cli/svg.hpp"

namespace bomf::cli {
namespace {

FusionObjectives objectives() {
  FusionObjectives o;
  o.loss_name = "nll";
  o.metrics = {{"acc", Direction::maximize}, {"ece", Direction::minimize}};
  return o;
}

FusionEvaluation evaluate(const Eigen::VectorXd& d) {
  const double loss = (d - Eigen::Vector3d(0.5, 0.3, 0.2)).squaredNorm();
  return {loss, Eigen::Vector2d(0.8 - loss + 0.03 * d(1), 0.05 + 0.5 * loss - 0.01 * d(0))};
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(FusionReport, FindsTheLibrarysResultsInTheLedger) {
  auto problem = make_fusion_problem(3, objectives(), evaluate);
  FusionEvaluator evaluator(problem);
  FusionSearchOptions options;
  options.seed = 3;
  options.num_iterations = 2;
  const FusionResult bomf_result = solve(options, evaluator);
  const FusionResult best = best_single_member(evaluator);
  const FusionResult last = last_checkpoint(evaluator);
  const FusionResult swa = uniform_average(evaluator);
  const FusionResult greedy = greedy_swa(evaluator);
  const std::size_t records = evaluator.ledger().records().size();

  const FusionReport report = make_fusion_report(evaluator.ledger(), {}, "run<1>.jsonl");
  EXPECT_EQ(report.records.size(), records);
  ASSERT_TRUE(report.search);
  EXPECT_EQ(report.search->num_evaluations, 3 + 3 + 2);
  ASSERT_EQ(report.methods.size(), 5u);
  const FusionResult* expected[] = {&bomf_result, &best, &last, &swa, &greedy};
  for (std::size_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(report.methods[i].result) << report.methods[i].method;
    EXPECT_EQ(report.methods[i].result->delta, expected[i]->delta) << report.methods[i].method;
    EXPECT_EQ(report.methods[i].result->evaluation.loss, expected[i]->evaluation.loss);
  }
  EXPECT_EQ(report.methods[0].method, "BOMF");
  EXPECT_EQ(report.methods[4].method, "Greedy SWA");

  const std::string md = report.markdown("report.svg");
  EXPECT_NE(md.find("| method | nll | acc | ece | δ | how |"), std::string::npos) << md;
  EXPECT_NE(md.find("![evaluated points, Pareto set and hypervolume trace](report.svg)"),
            std::string::npos);
  EXPECT_EQ(count(md, "\n| BOMF |"), 1);
  const std::string csv = report.evaluations_csv();
  EXPECT_EQ(count(csv, "\n"), static_cast<int>(records) + 1);
  EXPECT_EQ(csv.rfind("record,source,proposal,status,reused,pareto,hypervolume,seconds,nll,acc,"
                      "ece,delta_1,delta_2,delta_3,error\n",
                      0),
            0u);
  EXPECT_EQ(count(report.methods_csv(), "\n"), 6);
  const std::string svg = report.svg();
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("journal: run&lt;1&gt;.jsonl"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(FusionReport, SaysWhatTheJournalDoesNotHold) {
  auto problem = make_fusion_problem(3, objectives(), evaluate);
  FusionEvaluator evaluator(problem);
  // Only the members and two of Greedy SWA's soups: no search, no SWA.
  for (int i = 0; i < 3; ++i) {
    (void)evaluator.evaluate(Eigen::Vector3d::Unit(i), "baseline:best_member");
  }
  (void)evaluator.evaluate(Eigen::Vector3d(0.5, 0.5, 0.0), "elsewhere");
  const FusionReport report = make_fusion_report(evaluator.ledger(), {}, "j");
  EXPECT_FALSE(report.search);
  ASSERT_EQ(report.methods.size(), 5u);
  EXPECT_NE(report.methods[0].unavailable.find("no fusion search"), std::string::npos);
  EXPECT_TRUE(report.methods[1].result);                           // best member
  EXPECT_TRUE(report.methods[2].result);                           // last checkpoint
  EXPECT_EQ(report.methods[3].unavailable, "not in the journal");  // SWA
  EXPECT_FALSE(report.methods[4].result);                          // Greedy SWA
  EXPECT_NE(report.methods[4].unavailable.find("incomplete"), std::string::npos);
  const std::string md = report.markdown("");
  EXPECT_NE(md.find("| SWA | — | — | — | — | not in the journal |"), std::string::npos) << md;
  EXPECT_EQ(md.find("!["), std::string::npos);
}

TEST(FusionReport, KeepsFailuresWholeInTheCsvAndOnOneLineInMarkdown) {
  int calls = 0;
  auto problem = make_fusion_problem(2, objectives(), [&](const Eigen::VectorXd& d) {
    if (++calls == 2) {
      throw evaluation_error("exit status 1; stderr:\nline, with \"quotes\"\nlast | line");
    }
    return evaluate(Eigen::Vector3d(d(0), d(1), 0.0));
  });
  FusionEvaluator evaluator(problem);
  (void)evaluator.evaluate(Eigen::Vector2d(1, 0), "x");
  (void)evaluator.evaluate(Eigen::Vector2d(0, 1), "x");
  const FusionReport report = make_fusion_report(evaluator.ledger(), {}, "j");
  const std::string csv = report.evaluations_csv();
  EXPECT_NE(csv.find(",\"evaluation threw: exit status 1; stderr:\nline, with \"\"quotes\"\"\nlast "
                     "| line\"\n"),
            std::string::npos)
      << csv;
  const std::string md = report.markdown("");
  EXPECT_NE(md.find("| 2 | x | 0.000, 1.000 | evaluation threw: exit status 1; stderr: |"),
            std::string::npos)
      << md;
}

TEST(FusionReport, ResolvesMetricNamesOrSaysWhichThereAre) {
  ReportOptions o;
  o.selection = FusionSelectionRule::best_metric;
  o.selection_metric = "ece";
  EXPECT_EQ(resolve_selection(o, objectives()).metric, 1);
  o.selection_metric = "f1";
  EXPECT_THROW((void)resolve_selection(o, objectives()), usage_error);
  o = {};
  o.selection = FusionSelectionRule::weighted_sum;
  o.selection_weights = {1, 0};
  try {
    (void)resolve_selection(o, objectives());
    FAIL();
  } catch (const usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("expected 3 (the loss, then one per metric) (nll, then "
                                         "acc, ece)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(metric_index("", objectives(), "--baseline-metric"), 0);
  EXPECT_EQ(metric_index("ece", objectives(), "--baseline-metric"), 1);
}

// The library's advice, in the program's options; only the message's own leading function name
// is removed, never text the message quotes (an evaluator's standard error).
TEST(FusionReport, CommandLineAdviceNamesTheProgramsOptionsAndKeepsQuotedText) {
  EXPECT_EQ(command_line_advice("bomf::FusionSearch::observe: 2 evaluations failed, more than "
                                "options.max_failures = 1; the last failure: RuntimeError: "
                                "bomf::cuda: out of memory"),
            "2 evaluations failed, more than --max-failures 1; the last failure: RuntimeError: "
            "bomf::cuda: out of memory");
  EXPECT_EQ(command_line_advice("What to do: move the anchors to worse values "
                                "(normalization.anchor_overrides: a higher 'loss'), or set "
                                "blind_search.move_reference_point (with a new journal: a "
                                "journal's settings are fixed)."),
            "What to do: move the anchors to worse values (--anchor-value NAME=VALUE: a higher "
            "'loss'), or add --move-reference-point (with a new output directory or --journal: "
            "a journal's settings are fixed).");
  EXPECT_EQ(command_line_advice("plain text, bomf::x: kept"), "plain text, bomf::x: kept");
}

TEST(Svg, TicksAndEscapes) {
  const std::vector<double> unit = nice_ticks(0.0, 1.0);
  ASSERT_EQ(unit.size(), 6u);
  for (std::size_t k = 0; k < unit.size(); ++k) {
    EXPECT_NEAR(unit[k], 0.2 * static_cast<double>(k), 1e-15);
  }
  const std::vector<double> t = nice_ticks(0.93, 0.985);
  ASSERT_FALSE(t.empty());
  EXPECT_GE(t.front(), 0.93);
  EXPECT_LE(t.back(), 0.985);
  EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  Panel p{0, 0, 100, 100};
  p.fit(2.0, 2.0, -1.0, 1.0);  // a degenerate range gets a width
  EXPECT_LT(p.x_lo, 2.0);
  EXPECT_GT(p.x_hi, 2.0);
}

}  // namespace
}  // namespace bomf::cli
