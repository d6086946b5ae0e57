// The libtorch-free pieces of the bomf program: strict argument parsing, command templates,
// objectives, and the evaluator protocol (also against a real evaluator process).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "cli/arguments.hpp"
#include "cli/command_template.hpp"
#include "cli/objectives.hpp"
#include "cli/process.hpp"
#include "cli/protocol.hpp"
#include "support/error_message.hpp"

namespace bomf::cli {
namespace {

std::string usage_message(const std::function<void()>& call) {
  return test::error_message<usage_error>(call);
}

TEST(Arguments, RealListsRefuseEveryMalformedField) {
  EXPECT_EQ(parse_real_list("0.2,0.3,0.5", "-c"), (std::vector<double>{0.2, 0.3, 0.5}));
  EXPECT_EQ(parse_real_list(" 1e-3 , -2 ", "-c"), (std::vector<double>{1e-3, -2}));
  EXPECT_EQ(usage_message([] { (void)parse_real_list("0.5,,0.5", "-c"); }),
            "-c: field 2 of '0.5,,0.5' is empty, expected a finite real number in every "
            "comma-separated field");
  for (const char* bad : {"", ",", "0.5,", ",0.5", "0.5, ,0.5"}) {
    EXPECT_NE(usage_message([&] { (void)parse_real_list(bad, "-c"); }).find("is empty"),
              std::string::npos)
        << bad;
  }
  for (const char* bad :
       {"a", "0.5x", "0x1p3", "nan", "NaN", "inf", "-inf", "1e999", "1..2", "0.5 0.5", "1,2;3"}) {
    EXPECT_NE(usage_message([&] {
                (void)parse_real_list(bad, "-c");
              }).find("expected a finite real number"),
              std::string::npos)
        << bad;
  }
}

// A non-zero number that rounds to 0 is refused (--timeout 1e-400 would mean "no limit"); zero
// spelled any way and subnormal values (strtod sets ERANGE for them too) are kept.
TEST(Arguments, ANumberThatRoundsToZeroIsRefusedAndSubnormalsAreKept) {
  EXPECT_EQ(usage_message([] { (void)parse_real("1e-400", "--timeout"); }),
            "--timeout: the value is '1e-400', expected a finite real number (it is not 0 but "
            "rounds to 0 as a double)");
  EXPECT_NE(usage_message([] { (void)parse_real("-0.000001e-400", "-c"); }).find("rounds to 0"),
            std::string::npos);
  for (const char* zero : {"0", "0.0", "-0", "0e-400", "0.000e5"}) {
    EXPECT_EQ(parse_real(zero, "-c"), 0.0) << zero;
  }
  EXPECT_EQ(parse_real("4.9e-324", "-c"), 4.9e-324);
  EXPECT_EQ(parse_real("1e-320", "-c"), 1e-320);
  EXPECT_EQ(parse_real("1e-300", "-c"), 1e-300);
}

TEST(Arguments, IntegersSayTheirRange) {
  EXPECT_EQ(parse_integer("4", "--threads", 1, 8), 4);
  EXPECT_EQ(usage_message([] { (void)parse_integer("0", "--threads", 1, 8, "threads"); }),
            "--threads: the value is '0', expected an integer from 1 to 8 (threads)");
  EXPECT_EQ(usage_message([] {
              (void)parse_integer("-1", "--n", 1, std::numeric_limits<std::int64_t>::max());
            }),
            "--n: the value is '-1', expected an integer ≥ 1");
  for (const char* bad : {"", "1.5", "1e3", "0x10", "99999999999999999999", "3 4"}) {
    EXPECT_THROW((void)parse_integer(bad, "--n", 1, 1000), usage_error) << bad;
  }
  EXPECT_EQ(parse_key_value("a=b=c", "--metadata"),
            (std::pair<std::string, std::string>{"a", "b=c"}));
  EXPECT_THROW((void)parse_key_value("=x", "--metadata"), usage_error);
  EXPECT_THROW((void)parse_key_value("x", "--metadata"), usage_error);
}

TEST(CommandTemplate, SubstitutesQuotedValuesAndKeepsOtherBraces) {
  const std::set<std::string>& known = search_placeholders();
  const CommandTemplate t(
      "python -c 'print({\"a\": 1})' --weights {weights} {{worker}} --members {members}", known,
      "--evaluate");
  EXPECT_EQ(t.used(), (std::set<std::string>{"weights", "members"}));
  EXPECT_EQ(t.expand({{"weights", {"/tmp/a b/it's.safetensors"}}, {"members", {"x", "y z"}}}, true),
            "python -c 'print({\"a\": 1})' --weights '/tmp/a b/it'\\''s.safetensors' {worker} "
            "--members 'x' 'y z'");
  const CommandTemplate env("{worker}", known, "--env");
  EXPECT_EQ(env.expand({{"worker", {"3"}}}, false), "3");
  const std::string what =
      test::error_message([&] { (void)CommandTemplate("eval {weight}", known, "--evaluate"); });
  EXPECT_NE(what.find("unknown placeholder {weight}"), std::string::npos) << what;
  EXPECT_NE(what.find("{weights}"), std::string::npos) << what;
  EXPECT_THROW((void)t.expand({}, true), invalid_argument);
  EXPECT_EQ(shell_quote(""), "''");
}

TEST(Objectives, FromTheCommandLine) {
  const FusionObjectives o =
      parse_objectives({"nll:loss", "accuracy:metric", "ece:metric:minimize", "f1:metric:max"});
  EXPECT_EQ(o.loss_name, "nll");
  ASSERT_EQ(o.metrics.size(), 3u);
  EXPECT_EQ(o.metrics[0].name, "accuracy");
  EXPECT_EQ(o.metrics[0].direction, Direction::maximize);
  EXPECT_EQ(o.metrics[1].direction, Direction::minimize);
  EXPECT_EQ(o.metrics[2].direction, Direction::maximize);
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"accuracy:metric"}, "no loss declared"},
      {{"loss:loss"}, "no metric declared"},
      {{"loss:loss", "l2:loss", "a:metric"}, "a second loss ('l2', after 'loss')"},
      {{"loss:loss:maximize", "a:metric"}, "a loss is always minimized"},
      {{"loss:loss", "a:metric:upward"}, "the direction is 'upward'"},
      {{"loss:loss", "a:metric:"}, "the direction is '(empty)'"},
      {{"loss:loss", "a:score"}, "the kind is 'score', expected loss or metric"},
      {{"loss:loss", "a"}, "expected NAME:KIND or NAME:KIND:DIRECTION"},
      {{"loss:loss", "a:metric", "a:metric"}, "the name 'a' is used twice"},
      {{"loss:loss", "a b:metric"}, "the name 'a b' is not"},
      {{"loss:loss", ":metric"}, "the name '' is not"},
  };
  for (const auto& [specs, needle] : bad) {
    const std::string what = usage_message([&] { (void)parse_objectives(specs); });
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(Objectives, FromAConfigFile) {
  const FusionObjectives o = parse_objectives_json(
      R"({"objectives": [{"name": "loss", "kind": "loss"},
                          {"name": "macro_f1", "kind": "metric", "direction": "maximize"}]})",
      "o.json");
  EXPECT_EQ(o.loss_name, "loss");
  ASSERT_EQ(o.metrics.size(), 1u);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{", "not JSON"},
      {"[]", "expected an object {\"objectives\": [...]}"},
      {R"({"objectives": [3]})", "entry 1: expected an object"},
      {R"({"objectives": [{"name": "l", "kind": "loss", "direcion": "min"}]})",
       "unknown key \"direcion\""},
      {R"({"objectives": [{"name": "l", "kind": 1}]})", "\"kind\" is 1, expected a string"},
      {R"({"objectives": [{"name": "l"}]})", "\"name\" and \"kind\" are required"},
      {R"({"objectives": [{"name": "l", "kind": "loss"}]})", "no metric declared"},
  };
  for (const auto& [text, needle] : bad) {
    const std::string what = usage_message([&] { (void)parse_objectives_json(text, "o.json"); });
    EXPECT_NE(what.find(needle), std::string::npos) << text << " → " << what;
    EXPECT_NE(what.find("o.json"), std::string::npos) << what;
  }
}

FusionObjectives two_metrics() {
  return parse_objectives({"loss:loss", "accuracy:metric", "macro_f1:metric"});
}

TEST(EvaluatorProtocol, ReadsTheLastLineAndTheDeclaredMetricsInOrder) {
  const EvaluatorOutcome ok = parse_evaluator_answer(
      "loading model...\n{\"note\": \"a log line that is JSON too\"}\n"
      "{\"bomf_protocol\": 1, \"loss\": 0.41, \"metrics\": {\"macro_f1\": 0.87, \"accuracy\": "
      "0.91, \"extra\": 5}, \"seconds\": 12}\n\n",
      two_metrics());
  ASSERT_TRUE(ok.ok) << ok.failure;
  EXPECT_EQ(ok.evaluation.loss, 0.41);
  ASSERT_EQ(ok.evaluation.metrics.size(), 2);
  EXPECT_EQ(ok.evaluation.metrics[0], 0.91);  // accuracy: declared first
  EXPECT_EQ(ok.evaluation.metrics[1], 0.87);
}

TEST(EvaluatorProtocol, EveryMalformedAnswerIsAFailureWithItsReason) {
  const std::string good_metrics = R"("metrics": {"accuracy": 0.9, "macro_f1": 0.8})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no answer"},
      {"\n  \n", "no answer"},
      {"not json", "not a JSON object"},
      {"[1, 2]", "not a JSON object"},
      {R"({"bomf_protocol": 1, "loss": NaN, )" + good_metrics + "}",
       "NaN and Infinity are not JSON"},
      {R"({"loss": 0.4, )" + good_metrics + "}", "no \"bomf_protocol\" key"},
      {R"({"bomf_protocol": 2, "loss": 0.4, )" + good_metrics + "}", "\"bomf_protocol\" is 2"},
      {R"({"bomf_protocol": "1", "loss": 0.4, )" + good_metrics + "}",
       "\"bomf_protocol\" is \"1\""},
      {R"({"bomf_protocol": 1, )" + good_metrics + "}", "no \"loss\" key"},
      {R"({"bomf_protocol": 1, "loss": null, )" + good_metrics + "}", "\"loss\" is null"},
      {R"({"bomf_protocol": 1, "loss": "0.4", )" + good_metrics + "}", "expected a number"},
      {R"({"bomf_protocol": 1, "loss": 1e999, )" + good_metrics + "}",
       "not a JSON object (number overflow parsing '1e999')"},
      {R"({"bomf_protocol": 1, "loss": 0.4, "loss": 0.3, )" + good_metrics + "}",
       "malformed answer: the key \"loss\" appears twice in one object"},
      {R"({"bomf_protocol": 1, "loss": 0.4, "metrics": {"accuracy": 0.9, "accuracy": 1}})",
       "malformed answer: the key \"accuracy\" appears twice in one object"},
      {"not json", "(parse error at line 1"},
      {R"({"bomf_protocol": 1, "loss": 0.4})", "no \"metrics\" object"},
      {R"({"bomf_protocol": 1, "loss": 0.4, "metrics": {"accuracy": 0.9}})",
       "metric 'macro_f1' is missing (the answer has: accuracy)"},
      {R"({"bomf_protocol": 1, "loss": 0.4, "metrics": {"accuracy": 0.9, "macro_f1": [1]}})",
       "metric 'macro_f1' is [1], expected a number"},
      {R"({"bomf_protocol": 1, "error": "CUDA out of memory"})",
       "the evaluator reported an error: CUDA out of memory"},
  };
  for (const auto& [text, needle] : cases) {
    const EvaluatorOutcome outcome = parse_evaluator_answer(text, two_metrics());
    EXPECT_FALSE(outcome.ok) << text;
    EXPECT_NE(outcome.failure.find(needle), std::string::npos) << text << " → " << outcome.failure;
  }
}

TEST(EvaluatorProtocol, ARealEvaluatorProcess) {
  ProcessSpec spec;
  spec.timeout = std::chrono::seconds(30);
  spec.command =
      "echo 'evaluating' >&2; echo '{\"bomf_protocol\": 1, \"loss\": 0.5, \"metrics\": "
      "{\"accuracy\": 0.75, \"macro_f1\": 0.5}}'";
  const EvaluatorOutcome ok = evaluator_outcome(run_process(spec), two_metrics());
  ASSERT_TRUE(ok.ok) << ok.failure;
  EXPECT_EQ(ok.evaluation.metrics[0], 0.75);
  EXPECT_EQ(ok.stderr_tail, "evaluating\n");

  spec.command = "echo 'Traceback: boom' >&2; exit 1";
  const EvaluatorOutcome failed = evaluator_outcome(run_process(spec), two_metrics());
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.failure, "the evaluator command failed: exit status 1");
  EXPECT_EQ(failed.stderr_tail, "Traceback: boom\n");

  spec.command = "sleep 300";
  spec.timeout = std::chrono::milliseconds(200);
  spec.kill_grace = std::chrono::milliseconds(200);
  const EvaluatorOutcome slow = evaluator_outcome(run_process(spec), two_metrics());
  EXPECT_FALSE(slow.ok);
  EXPECT_NE(slow.failure.find("timed out"), std::string::npos) << slow.failure;

  spec.command = "head -c 5000 /dev/zero";
  spec.timeout = std::chrono::seconds(30);
  spec.max_stdout_bytes = 100;
  const EvaluatorOutcome chatty = evaluator_outcome(run_process(spec), two_metrics());
  EXPECT_FALSE(chatty.ok);
  EXPECT_NE(chatty.failure.find("exceeded the 100 bytes"), std::string::npos) << chatty.failure;
}

}  // namespace
}  // namespace bomf::cli
