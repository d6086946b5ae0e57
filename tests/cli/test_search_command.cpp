// `bomf search` as users run it: a subprocess with a separate evaluator process — the Python
// example (examples/python_evaluator, Debian's python3-numpy reading safetensors itself), the
// C++ example (examples/cpp_evaluator) and a shell script — through to the fused checkpoint, the
// baselines and the report; a kill -9 and a rerun that loses and repeats nothing; failures,
// timeouts and interrupts; every wrong command line refused with exit status 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "search_test_util.hpp"

namespace bomf::test {
namespace {

using namespace std::chrono_literals;

const std::string kPythonExample = std::string(BOMF_SOURCE_DIR) + "/examples/python_evaluator";

/// The objectives of the examples' evaluators.
const std::string kExampleObjectives =
    " --objective loss:loss --objective accuracy:metric --objective macro_f1:metric";
/// The objectives of the shell evaluator.
const std::string kShellObjectives = " --objective loss:loss --objective acc:metric";

std::string joined(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) {
    out += " " + q(p);
  }
  return out;
}

/// Runs `command` through /bin/sh and returns its standard output (the test fails on a non-zero
/// status).
std::string output_of(const std::string& command) {
  cli::ProcessSpec spec;
  spec.command = command;
  spec.timeout = 120s;
  const cli::ProcessResult r = cli::run_process(spec);
  EXPECT_TRUE(r.ok()) << command << ": " << r.describe() << "\n" << r.stderr_tail;
  return r.stdout_text;
}

/// Every file `bomf report JOURNAL -o DIR` writes equals the one `bomf search` wrote.
void expect_same_report(const std::string& search_output, const std::string& journal,
                        const std::string& report_dir) {
  const BomfRun r = run_bomf("report " + q(journal) + " -o " + q(report_dir));
  ASSERT_EQ(r.status(), 0) << r.err();
  for (const char* name : {"report.md", "report.csv", "methods.csv", "report.svg"}) {
    EXPECT_EQ(read_bytes(search_output + "/" + name), read_bytes(report_dir + "/" + name)) << name;
  }
}

/// Waits until `journal` holds at least `count` evaluation records (fails after `limit`).
void wait_for_records(const std::string& journal, std::size_t count,
                      std::chrono::seconds limit = 90s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (evaluation_records(journal).size() < count) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "the journal never reached " << count;
    std::this_thread::sleep_for(50ms);
  }
}

/// True when process `pid` has ended (it does not exist, or is a zombie nobody reaped yet).
bool not_running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  const std::size_t paren = text.rfind(')');
  return text.empty() || (paren != std::string::npos && text.substr(paren + 2, 1) == "Z");
}

class SearchCommand : public ScratchDirectory {
 protected:
  /// Members trained by the Python example's train.py with `arguments` into run/ (their paths,
  /// in training order).
  std::vector<std::string> python_members(const std::string& python, const std::string& arguments) {
    return lines(output_of(q(python) + " " + q(kPythonExample + "/train.py") + " --out " +
                           q(path("run")) + " " + arguments));
  }
};

// The Python example end to end: members trained by train.py, evaluated by evaluate.py (numpy
// reading the safetensors bomf writes); the fused checkpoint loads in Python and scores what the
// report says; `bomf report` rewrites the same report; a run killed with SIGKILL and rerun loses
// and repeats no evaluation and ends with exactly the journal of the uninterrupted run.
TEST_F(SearchCommand, PythonEvaluatorEndToEndAndAfterKill9) {
  const std::string python = python_with("numpy");
  if (python.empty()) {
    GTEST_SKIP() << "no python3 with numpy (Debian: apt-get install python3-numpy)";
  }
  const std::vector<std::string> members = python_members(python, "--members 3 --steps 600");
  ASSERT_EQ(members.size(), 3u);
  const std::string data = path("run/data.safetensors");
  const auto evaluate = [&](const std::string& log, const std::string& extra) {
    return q(python) + " " + q(kPythonExample + "/evaluate.py") + " --data " + q(data) +
           " --weights {weights} --tag {delta} --log " + q(log) + extra;
  };
  const std::string common =
      "search" + joined(members) + kExampleObjectives + " --num-iterations 3 -q";

  // The uninterrupted run.
  const BomfRun ref = run_bomf(common + " -o " + q(path("ref")) + " --evaluate " +
                               q(evaluate(path("ref.log"), "")));
  ASSERT_EQ(ref.status(), 0) << ref.err();
  const std::vector<nlohmann::json> reference = evaluation_records(path("ref/journal.jsonl"));
  int computed = 0;
  for (const auto& r : reference) {
    EXPECT_EQ(r["status"], "ok") << r.dump();
    computed += r["reused"].get<bool>() ? 0 : 1;
  }
  EXPECT_GE(reference.size(), 9u);  // 3 members, 3 initial, 3 acquisition; SWA and 2 soups
                                    // unless the search evaluated their δ already
  EXPECT_EQ(lines_of(path("ref.log")).size(), static_cast<std::size_t>(computed))
      << "each evaluation runs the evaluator exactly once";
  for (const char* name : {"fused.safetensors", "report.md", "report.csv", "methods.csv",
                           "report.svg", "journal.jsonl"}) {
    EXPECT_TRUE(fs::exists(path("ref/") + name)) << name;
  }
  EXPECT_FALSE(fs::exists(path("ref/scratch"))) << "the scratch directory is removed";
  // The fused checkpoint, loaded in Python, scores what the report says of BOMF's δ.
  const std::vector<std::string> bomf_row = method_row(path("ref/methods.csv"), "BOMF");
  ASSERT_GE(bomf_row.size(), 5u);
  EXPECT_EQ(bomf_row[1], "true");
  const nlohmann::json answer = nlohmann::json::parse(
      lines(output_of(q(python) + " " + q(kPythonExample + "/evaluate.py") + " --data " + q(data) +
                      " --weights " + q(path("ref/fused.safetensors"))))
          .back());
  EXPECT_DOUBLE_EQ(answer["loss"].get<double>(), std::stod(bomf_row[2]));
  EXPECT_DOUBLE_EQ(answer["metrics"]["accuracy"].get<double>(), std::stod(bomf_row[3]));
  const std::string md = read_bytes(path("ref/report.md"));
  for (const char* method :
       {"| BOMF |", "| best member |", "| last checkpoint |", "| SWA |", "| Greedy SWA |"}) {
    EXPECT_NE(md.find(method), std::string::npos) << method << "\n" << md;
  }
  expect_same_report(path("ref"), path("ref/journal.jsonl"), path("ref_report"));

  // The same search killed with SIGKILL part-way (an evaluation in flight), then rerun.
  const std::string killed_log = path("killed.log");
  const std::string killed_command = common + " -o " + q(path("killed")) + " --evaluate " +
                                     q(evaluate(killed_log, " --sleep 0.3"));
  cli::ProcessPool background;
  cli::ProcessSpec spec;
  spec.command = q(BOMF_EXECUTABLE) + " " + killed_command;
  spec.timeout = 120s;
  const auto id = background.start(spec);
  wait_for_records(path("killed/journal.jsonl"), 7);
  background.cancel(id);  // SIGKILL to bomf's process group (not to its evaluators')
  const std::vector<nlohmann::json> before = evaluation_records(path("killed/journal.jsonl"));
  ASSERT_GE(before.size(), 7u);
  ASSERT_LT(before.size(), reference.size()) << "killed too late to test anything";
  const std::size_t log_before = lines_of(killed_log).size();
  const BomfRun rerun = run_bomf(killed_command);
  ASSERT_EQ(rerun.status(), 0) << rerun.err();
  EXPECT_FALSE(fs::exists(path("killed/scratch"))) << "the killed run's scratch is removed";
  const std::vector<nlohmann::json> after = evaluation_records(path("killed/journal.jsonl"));
  // Nothing lost: the first run's records are still there, first, unchanged.
  ASSERT_GE(after.size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i], before[i]) << i;
  }
  // Nothing repeated: no δ journaled by the first run was given to the evaluator again.
  std::set<std::vector<double>> journaled;
  for (const auto& r : before) {
    journaled.insert(delta_of(r));
  }
  const std::vector<std::string> log = lines_of(killed_log);
  for (std::size_t i = log_before; i < log.size(); ++i) {
    const auto tag = nlohmann::json::parse(log[i])["tag"].get<std::string>();
    EXPECT_EQ(journaled.count(parse_delta(tag)), 0u) << "evaluated again: " << tag;
  }
  // And the search went on as if never interrupted: the same evaluations in the same order.
  ASSERT_EQ(after.size(), reference.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(delta_of(after[i]), delta_of(reference[i])) << i;
    EXPECT_EQ(after[i]["source"], reference[i]["source"]) << i;
    EXPECT_EQ(after[i]["loss"], reference[i]["loss"]) << i;
  }
  EXPECT_EQ(read_bytes(path("killed/methods.csv")), read_bytes(path("ref/methods.csv")));
}

// torch.save members (train.py --format torch, what `torch.save(model.state_dict(), path)`
// writes) fused into a .pt file that Python's torch.load reads and evaluate.py scores as the
// report says.
TEST_F(SearchCommand, PythonTorchSaveMembers) {
  const std::string python = python_with("numpy, torch");
  if (python.empty()) {
    GTEST_SKIP() << "no python3 with numpy and torch (Debian: python3-numpy, python3-torch)";
  }
  const std::vector<std::string> members =
      python_members(python, "--members 2 --steps 300 --format torch");
  ASSERT_EQ(members.size(), 2u);
  const std::string evaluate = q(python) + " " + q(kPythonExample + "/evaluate.py") + " --data " +
                               q(path("run/data.safetensors"));
  const BomfRun r =
      run_bomf("search" + joined(members) + kExampleObjectives +
               " --num-initial 1 --num-iterations 1 --baselines none -q -o " + q(path("out")) +
               " --evaluate " + q(evaluate + " --weights {weights}"));
  ASSERT_EQ(r.status(), 0) << r.err();
  const std::vector<std::string> bomf_row = method_row(path("out/methods.csv"), "BOMF");
  ASSERT_GE(bomf_row.size(), 3u);
  const nlohmann::json answer = nlohmann::json::parse(
      lines(output_of(evaluate + " --weights " + q(path("out/fused.pt")))).back());
  EXPECT_DOUBLE_EQ(answer["loss"].get<double>(), std::stod(bomf_row[2]));
}

// An evaluator that fuses on its own, started through a launcher: bomf passes {delta} and
// {members} and writes nothing.
TEST_F(SearchCommand, PythonEvaluatorFusesItself) {
  const std::string python = python_with("numpy");
  if (python.empty()) {
    GTEST_SKIP() << "no python3 with numpy (Debian: apt-get install python3-numpy)";
  }
  const std::vector<std::string> members = python_members(python, "--members 2 --steps 200");
  ASSERT_EQ(members.size(), 2u);
  // Behind a launcher (here `env`; `srun …` or `ssh host …` the same way).
  const std::string evaluate =
      "env LAUNCHED=1 " + q(python) + " " + q(kPythonExample + "/evaluate.py") + " --data " +
      q(path("run/data.safetensors")) + " --delta {delta} --members {members}";
  const BomfRun r = run_bomf("search" + joined(members) + kExampleObjectives +
                             " --evaluator-fuses --num-initial 1 --num-iterations 1 "
                             "--baselines none -q -o " +
                             q(path("out")) + " --keep-scratch --evaluate " + q(evaluate));
  ASSERT_EQ(r.status(), 0) << r.err();
  const auto records = evaluation_records(path("out/journal.jsonl"));
  ASSERT_EQ(records.size(), 4u);
  for (const auto& record : records) {
    EXPECT_EQ(record["status"], "ok") << record.dump();
  }
  // Nothing was fused into the slots (--keep-scratch keeps them to show it).
  for (const auto& entry : fs::recursive_directory_iterator(path("out/scratch"))) {
    EXPECT_TRUE(entry.is_directory()) << entry.path();
  }
  EXPECT_TRUE(fs::exists(path("out/fused.safetensors")));  // the chosen δ, written by bomf
}

// PEFT adapter members: {weights} is a fused adapter directory in PEFT's layout, and so is the
// chosen checkpoint.
TEST_F(SearchCommand, PeftAdapterMembers) {
  const std::string peft = std::string(BOMF_TEST_DATA_DIR) + "/peft/";
  const std::vector<std::string> members = {peft + "member_1", peft + "member_2",
                                            peft + "member_3"};
  const std::string evaluate =
      "test -f {weights}/adapter_model.safetensors && test -f {weights}/adapter_config.json && "
      "sh " +
      q(shell_evaluator(dir_)) + " {delta}";
  const BomfRun r = run_bomf("search" + joined(members) + kShellObjectives +
                             " --num-initial 0 --num-iterations 1 --baselines none -q -o " +
                             q(path("out")) + " --evaluate " + q(evaluate));
  ASSERT_EQ(r.status(), 0) << r.err();
  for (const auto& record : evaluation_records(path("out/journal.jsonl"))) {
    EXPECT_EQ(record["status"], "ok") << record.dump();
  }
  EXPECT_TRUE(fs::exists(path("out/fused_adapter/adapter_model.safetensors")));
  EXPECT_TRUE(fs::exists(path("out/fused_adapter/adapter_config.json")));
}

// The C++ example evaluator (a separate program reading the fused safetensors file with
// bomf::torch) on two workers.
TEST_F(SearchCommand, CppEvaluatorEndToEnd) {
#ifndef BOMF_CPP_EVALUATOR
  GTEST_SKIP() << "examples are not built (BOMF_BUILD_EXAMPLES=OFF)";
#else
  const std::string evaluator = BOMF_CPP_EVALUATOR;
  fs::create_directories(path("run"));
  const std::vector<std::string> members = lines(
      output_of(q(evaluator) + " train --out " + q(path("run")) + " --members 3 --steps 900"));
  ASSERT_EQ(members.size(), 3u);
  const std::string evaluate = q(evaluator) + " evaluate --data " + q(path("run/data.safetensors"));
  const BomfRun r = run_bomf(
      "search" + joined(members) + kExampleObjectives +
      " --num-initial 2 --num-iterations 2 --baselines swa --parallel 2 -q -o " + q(path("out")) +
      " --evaluate " +
      q(evaluate + " --weights {weights} --log " + q(path("calls.log")) + " --tag {delta}"));
  ASSERT_EQ(r.status(), 0) << r.err();
  const auto records = evaluation_records(path("out/journal.jsonl"));
  int computed = 0;
  for (const auto& record : records) {
    EXPECT_EQ(record["status"], "ok") << record.dump();
    computed += record["reused"].get<bool>() ? 0 : 1;
  }
  EXPECT_EQ(lines_of(path("calls.log")).size(), static_cast<std::size_t>(computed));
  const std::vector<std::string> bomf_row = method_row(path("out/methods.csv"), "BOMF");
  ASSERT_GE(bomf_row.size(), 3u);
  const nlohmann::json answer = nlohmann::json::parse(
      lines(output_of(evaluate + " --weights " + q(path("out/fused.safetensors")))).back());
  EXPECT_DOUBLE_EQ(answer["loss"].get<double>(), std::stod(bomf_row[2]));
  expect_same_report(path("out"), path("out/journal.jsonl"), path("report"));
#endif
}

// Failed evaluations (a non-zero exit with a message on stderr, a timeout) are journaled with
// their reason and the stderr tail, and the search goes on; past --max-failures it stops with
// status 3, and the report is still written.
// What `bomf search` shows while it runs. On a terminal: a line per evaluation and under them a
// status line redrawn in place ("\r\033[K  3 done · 0 running · hv … · 0:01"), which is cleared
// before the summary. Through a pipe: the same evaluation lines and no terminal control codes.
// With -q on a terminal: neither.
TEST_F(SearchCommand, ShowsItsProgressOnATerminalAndPlainLinesInAPipe) {
  const auto members = tiny_members(dir_, 3);
  const std::string evaluate = "sh " + q(shell_evaluator(dir_)) + " {delta}";
  const auto search = [&](const std::string& out, const std::string& extra) {
    return "search" + joined(members) + kShellObjectives +
           " --evaluator-fuses --baselines none --num-initial 2 --num-iterations 2 -o " +
           q(path(out)) + extra + " --evaluate " + q(evaluate);
  };
  const TerminalRun terminal = run_bomf_on_terminal(search("tty", ""));
  if (!terminal.unavailable.empty()) {
    GTEST_SKIP() << "no pseudo-terminal on this machine (" << terminal.unavailable << ")";
  }
  ASSERT_FALSE(terminal.timed_out) << terminal.text;
  ASSERT_EQ(terminal.status, 0) << terminal.text;
  const std::string& text = terminal.text;
  EXPECT_NE(text.find("fusion search: 7 evaluations planned, 1 worker"), std::string::npos) << text;
  for (int k = 1; k <= 7; ++k) {
    EXPECT_NE(text.find("[" + std::to_string(k) + "/7] "), std::string::npos) << k << "\n" << text;
  }
  EXPECT_NE(text.find("[1/7] member"), std::string::npos) << text;
  EXPECT_NE(text.find("[7/7] acquisition"), std::string::npos) << text;
  // The status line, drawn after each evaluation, with the count and the best values so far.
  EXPECT_NE(text.find("\r\033[K  1 done · 0 running · "), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[K  7 done · 0 running · hv "), std::string::npos) << text;
  EXPECT_NE(text.find("best loss "), std::string::npos) << text;
  // The last control sequence clears it: nothing after it is a status line.
  const std::size_t last = text.rfind("\r\033[K");
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(text.find(" done · ", last), std::string::npos) << text.substr(last);
  // Every evaluation line starts on a line of its own: a redrawn status line is cleared first.
  std::size_t at = 0;
  while ((at = text.find("] member", at)) != std::string::npos) {
    const std::size_t open = text.rfind('[', at);
    ASSERT_NE(open, std::string::npos);
    EXPECT_TRUE(open == 0 || text[open - 1] == '\n' || text.compare(open - 4, 4, "\r\033[K") == 0)
        << text.substr(open > 20 ? open - 20 : 0, 60);
    ++at;
  }
  // Through a pipe: the same lines, no control codes, no status line.
  const BomfRun piped = run_bomf(search("pipe", ""));
  ASSERT_EQ(piped.status(), 0) << piped.err();
  for (int k = 1; k <= 7; ++k) {
    EXPECT_NE(piped.err().find("[" + std::to_string(k) + "/7] "), std::string::npos) << k;
  }
  EXPECT_EQ(piped.err().find('\033'), std::string::npos) << piped.err();
  EXPECT_EQ(piped.err().find(" done · "), std::string::npos) << piped.err();
  EXPECT_EQ(piped.out().find('\033'), std::string::npos) << piped.out();
  // Quiet on a terminal: no progress at all.
  const TerminalRun quiet = run_bomf_on_terminal(search("quiet", " -q"));
  ASSERT_EQ(quiet.status, 0) << quiet.text;
  EXPECT_EQ(quiet.text.find("/7] "), std::string::npos) << quiet.text;
  EXPECT_EQ(quiet.text.find('\033'), std::string::npos) << quiet.text;
}

TEST_F(SearchCommand, FailuresAndTimeoutsAreJournaledAndTheSearchGoesOn) {
  const auto members = tiny_members(dir_, 3);
  const std::string evaluate = "sh " + q(shell_evaluator(dir_)) + " {delta}";
  const std::string common = " --evaluator-fuses -q --baselines none";
  // Member 1 always fails and member 2 always times out (besides the FAIL and HANG regions the
  // design may hit): both kinds of failure happen, whatever δ the search proposes.
  const std::string failing =
      "case {delta} in 1,0,0) echo boom at {delta} >&2; exit 3;; 0,1,0) sleep 60;; esac; " +
      evaluate;
  const BomfRun r = run_bomf("search" + joined(members) + kShellObjectives + common +
                                 " --num-iterations 2 --max-failures 100 --timeout 1 -o " +
                                 q(path("out")) + " --evaluate " + q(failing),
                             120s, {{"FAIL", "1"}, {"HANG", "1"}});
  ASSERT_EQ(r.status(), 0) << r.err();
  int failed = 0;
  int timed_out = 0;
  for (const auto& record : evaluation_records(path("out/journal.jsonl"))) {
    if (record["status"] == "ok") {
      continue;
    }
    const std::string error = record["error"].get<std::string>();
    if (error.find("exit status 3") != std::string::npos) {
      ++failed;
      EXPECT_NE(error.find("boom at "), std::string::npos) << "the stderr tail is kept: " << error;
    } else {
      ++timed_out;
      EXPECT_NE(error.find("timed out after"), std::string::npos) << error;
    }
  }
  EXPECT_GE(failed, 1) << "member 1 fails";
  EXPECT_GE(timed_out, 1) << "member 2 times out";
  EXPECT_NE(read_bytes(path("out/report.md")).find("## Failed evaluations"), std::string::npos);

  const BomfRun stopped =
      run_bomf("search" + joined(members) + kShellObjectives + common + " --max-failures 0 -o " +
                   q(path("stopped")) + " --evaluate " + q(evaluate),
               120s, {{"FAIL", "1"}});
  EXPECT_EQ(stopped.status(), 3) << stopped.err();
  EXPECT_NE(stopped.err().find("the search stopped"), std::string::npos) << stopped.err();
  EXPECT_NE(stopped.err().find("more than --max-failures 0"), std::string::npos) << stopped.err();
  EXPECT_TRUE(fs::exists(path("stopped/report.md")));
  EXPECT_FALSE(fs::exists(path("stopped/fused.safetensors")));
}

// Two searches given one --scratch directory, run at once: each writes its fused checkpoints in
// a directory of its own (bomf-search-XXXXXX), so neither deletes or overwrites the other's —
// each evaluator finds, during all its run, the checkpoint fused from its own search's members
// and the marker it left in its slot; the user's own worker-0 folder there is left alone, and
// at the end nothing of bomf's is left in the directory.
TEST_F(SearchCommand, SearchesSharingAScratchDirectoryKeepToTheirOwn) {
  const std::string scratch = path("shared scratch");
  fs::create_directories(scratch + "/worker-0");
  write_bytes(scratch + "/worker-0/notes.txt", "the user's own");
  const std::string check = path("check.sh");
  // TAG WEIGHTS SLOT DELTA LOG: the members' tensor is named TAG, so their fused checkpoint holds
  // it (in the safetensors header); it must stay there, unchanged, while the evaluator runs.
  write_bytes(check, R"SH(#!/bin/sh
tag=$1; weights=$2; slot=$3; delta=$4
echo "$weights" >> "$5"
grep -q "$tag" "$weights" || { echo "'$weights' is not $tag's checkpoint" >&2; exit 1; }
sum=$(cksum < "$weights")
echo "$tag" > "$slot/marker"
sleep 0.7
[ "$(cat "$slot/marker" 2>/dev/null)" = "$tag" ] || { echo "slot '$slot' was taken over" >&2; exit 1; }
[ "$(cksum < "$weights" 2>/dev/null)" = "$sum" ] || { echo "'$weights' was changed" >&2; exit 1; }
exec sh "$6" "$delta"
)SH");
  const std::string evaluator = shell_evaluator(dir_);
  cli::ProcessPool background;
  std::map<cli::ProcessPool::Id, std::string> tags;
  for (const std::string tag : {"alpha_tensor", "bravo_tensor"}) {
    fs::create_directories(path(tag));
    const auto members = tiny_members(path(tag), 2, tag);
    cli::ProcessSpec spec;
    spec.command = q(BOMF_EXECUTABLE) + " search" + joined(members) + kShellObjectives +
                   " -q --baselines none --num-initial 2 --num-iterations 2 --parallel 2" +
                   " --scratch " + q(scratch) + " -o " + q(path(tag + "_out")) + " --evaluate " +
                   q("sh " + q(check) + " " + tag + " {weights} {scratch} {delta} " +
                     q(path(tag + ".log")) + " " + q(evaluator));
    spec.timeout = 120s;
    tags[background.start(spec)] = tag;
  }
  std::map<std::string, std::set<std::string>> run_directories;
  for (int finished = 0; finished < 2;) {
    for (const auto& [id, r] : background.wait()) {
      ++finished;
      const std::string& tag = tags.at(id);
      EXPECT_TRUE(r.ok()) << tag << ": " << r.describe() << "\n" << r.stderr_tail;
      const auto records = evaluation_records(path(tag + "_out/journal.jsonl"));
      EXPECT_EQ(records.size(), 6u) << tag;
      for (const auto& record : records) {
        EXPECT_EQ(record["status"], "ok") << tag << ": " << record.dump();
      }
      for (const std::string& weights : lines_of(path(tag + ".log"))) {
        const fs::path relative = fs::path(weights).lexically_relative(scratch);
        ASSERT_EQ(std::distance(relative.begin(), relative.end()), 3) << weights;
        EXPECT_EQ(relative.begin()->string().rfind("bomf-search-", 0), 0u) << weights;
        run_directories[tag].insert(relative.begin()->string());
      }
    }
  }
  ASSERT_EQ(run_directories["alpha_tensor"].size(), 1u);
  ASSERT_EQ(run_directories["bravo_tensor"].size(), 1u);
  EXPECT_NE(*run_directories["alpha_tensor"].begin(), *run_directories["bravo_tensor"].begin());
  EXPECT_EQ(snapshot(scratch), (std::map<std::string, std::string>{
                                   {"worker-0/", ""}, {"worker-0/notes.txt", "the user's own"}}))
      << "only the user's folder is left";
}

// A journal belongs to one search: another evaluator command (or other members) on it is refused,
// saying what to do, and the journal is left as it was.
TEST_F(SearchCommand, AJournalOfAnotherSearchIsRefused) {
  const auto members = tiny_members(dir_, 2);
  const std::string base = "search" + joined(members) + kShellObjectives +
                           " --evaluator-fuses -q --baselines none --num-initial 1 "
                           "--num-iterations 0 -o " +
                           q(path("out")) + " --evaluate ";
  const std::string evaluate = "sh " + q(shell_evaluator(dir_)) + " {delta}";
  const BomfRun first = run_bomf(base + q(evaluate));
  ASSERT_EQ(first.status(), 0) << first.err();
  const std::string journal = read_bytes(path("out/journal.jsonl"));
  const BomfRun other = run_bomf(base + q("SLEEP=0 " + evaluate));
  EXPECT_EQ(other.status(), 1) << other.err();
  EXPECT_NE(other.err().find("belongs to a different run: header key 'fingerprint'"),
            std::string::npos)
      << other.err();
  EXPECT_NE(other.err().find("give this search another --journal or output directory"),
            std::string::npos)
      << other.err();
  EXPECT_EQ(read_bytes(path("out/journal.jsonl")), journal);
}

// SIGINT stops the evaluations in flight (their processes are killed, their slots removed) and
// exits with 130; the journal keeps what completed, and a rerun finishes the search.
TEST_F(SearchCommand, InterruptStopsTheEvaluatorsAndARerunFinishes) {
  const auto members = tiny_members(dir_, 2);
  const std::string evaluate = "sh " + q(shell_evaluator(dir_)) + " {delta}";
  const std::string command = "search" + joined(members) + kShellObjectives +
                              " --evaluator-fuses -q --baselines none --num-initial 1 "
                              "--num-iterations 1 --parallel 2 -o " +
                              q(path("out")) + " --evaluate " + q(evaluate);
  cli::ProcessPool background;
  cli::ProcessSpec spec;
  spec.command = "echo $$ > " + q(path("pid")) + "; exec " + q(BOMF_EXECUTABLE) + " " + command;
  spec.environment = {{"SLEEP", "60"}, {"LOG", path("calls.log")}};
  spec.timeout = 60s;
  background.start(spec);
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (lines_of(path("calls.log")).size() < 2) {  // both members' evaluations running
    ASSERT_LT(std::chrono::steady_clock::now(), until);
    std::this_thread::sleep_for(50ms);
  }
  const pid_t bomf = std::stoi(read_bytes(path("pid")));
  ASSERT_EQ(::kill(bomf, SIGINT), 0);
  std::vector<std::pair<cli::ProcessPool::Id, cli::ProcessResult>> done;
  while (done.empty()) {
    done = background.wait();
  }
  const cli::ProcessResult& r = done.front().second;
  EXPECT_EQ(r.termination, cli::ProcessResult::Termination::exited);
  EXPECT_EQ(r.exit_code, 130) << r.stderr_tail;
  EXPECT_NE(r.stderr_tail.find("interrupted by signal 2"), std::string::npos) << r.stderr_tail;
  EXPECT_NE(r.stderr_tail.find("rerun the same command"), std::string::npos) << r.stderr_tail;
  EXPECT_LT(r.seconds, 30.0) << "the evaluators were not waited for";
  for (const std::string& line : lines_of(path("calls.log"))) {
    EXPECT_EQ(line.rfind("start", 0), 0u) << "no evaluation may have finished: " << line;
    const pid_t evaluator = std::stoi(line.substr(line.rfind(' ') + 1));
    EXPECT_TRUE(not_running(evaluator)) << "evaluator " << evaluator;
  }
  EXPECT_TRUE(evaluation_records(path("out/journal.jsonl")).empty());
  EXPECT_FALSE(fs::exists(path("out/scratch"))) << "the slots and the search's scratch removed";

  const BomfRun rerun = run_bomf(command);
  ASSERT_EQ(rerun.status(), 0) << rerun.err();
  EXPECT_EQ(evaluation_records(path("out/journal.jsonl")).size(), 4u);
}

// A search killed with SIGKILL leaves its bomf-search-XXXXXX directory (and nothing else) in the
// scratch directory; the next search there removes it, its process being gone.
TEST_F(SearchCommand, TheNextSearchRemovesTheScratchOfAKilledOne) {
  const auto members = tiny_members(dir_, 2);
  fs::create_directories(path("scratch/worker-0"));
  write_bytes(path("scratch/worker-0/notes.txt"), "the user's own");
  const std::string command =
      "search" + joined(members) + kShellObjectives +
      " -q --baselines none --num-initial 0 --num-iterations 0 --scratch " + q(path("scratch")) +
      " -o " + q(path("out")) + " --evaluate " +
      q("test -f {weights} && sh " + q(shell_evaluator(dir_)) + " {delta}") + " --worker-env " +
      q("SLOT={weights}");
  cli::ProcessPool background;
  cli::ProcessSpec spec;
  spec.command = q(BOMF_EXECUTABLE) + " " + command;
  spec.environment = {{"SLEEP", "60"}, {"LOG", path("calls.log")}};
  spec.timeout = 60s;
  const auto id = background.start(spec);
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (lines_of(path("calls.log")).empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), until);
    const auto ended = background.wait(std::chrono::milliseconds(50));
    ASSERT_TRUE(ended.empty()) << ended.front().second.describe() << "\n"
                               << ended.front().second.stderr_tail;
  }
  background.cancel(id);  // SIGKILL to bomf (its evaluator, in a group of its own, goes on)
  const std::string line = lines_of(path("calls.log")).front();
  const pid_t evaluator = std::stoi(line.substr(line.rfind(' ') + 1));
  ::kill(-::getpgid(evaluator), SIGKILL);
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(path("scratch"))) {
    left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].rfind("bomf-search-", 0), 0u) << left[0];
  EXPECT_EQ(left[1], "worker-0");
  EXPECT_NE(line.find(path("scratch/" + left[0] + "/worker-0/")), std::string::npos) << line;

  const BomfRun rerun = run_bomf(command);
  ASSERT_EQ(rerun.status(), 0) << rerun.err();
  EXPECT_EQ(evaluation_records(path("out/journal.jsonl")).size(), 2u);
  EXPECT_EQ(snapshot(path("scratch")),
            (std::map<std::string, std::string>{{"worker-0/", ""},
                                                {"worker-0/notes.txt", "the user's own"}}));
}

// SIGTERM and SIGHUP stop a search as SIGINT does: the evaluators killed, status 130, nothing of
// bomf's left in the scratch directory (a shared one, holding the user's files, here).
TEST_F(SearchCommand, TerminateAndHangupStopTheSearchWithStatus130) {
  const auto members = tiny_members(dir_, 2);
  const std::string evaluate = "sh " + q(shell_evaluator(dir_)) + " {delta}";
  fs::create_directories(path("scratch"));
  write_bytes(path("scratch/notes.txt"), "the user's own");
  for (const int signal : {SIGTERM, SIGHUP}) {
    const std::string name = std::to_string(signal);
    cli::ProcessPool background;
    cli::ProcessSpec spec;
    spec.command = "echo $$ > " + q(path("pid" + name)) + "; exec " + q(BOMF_EXECUTABLE) +
                   " search" + joined(members) + kShellObjectives +
                   " --evaluator-fuses -q --baselines none --parallel 2 --scratch " +
                   q(path("scratch")) + " -o " + q(path("out" + name)) + " --evaluate " +
                   q(evaluate);
    spec.environment = {{"SLEEP", "60"}, {"LOG", path("calls" + name + ".log")}};
    spec.timeout = 60s;
    background.start(spec);
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (lines_of(path("calls" + name + ".log")).size() < 2) {
      ASSERT_LT(std::chrono::steady_clock::now(), until) << name;
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(::kill(std::stoi(read_bytes(path("pid" + name))), signal), 0);
    std::vector<std::pair<cli::ProcessPool::Id, cli::ProcessResult>> done;
    while (done.empty()) {
      done = background.wait();
    }
    const cli::ProcessResult& r = done.front().second;
    EXPECT_EQ(r.termination, cli::ProcessResult::Termination::exited) << name;
    EXPECT_EQ(r.exit_code, 130) << name << "\n" << r.stderr_tail;
    EXPECT_NE(r.stderr_tail.find("interrupted by signal " + name), std::string::npos)
        << r.stderr_tail;
    EXPECT_LT(r.seconds, 30.0) << "the evaluators were not waited for";
    for (const std::string& line : lines_of(path("calls" + name + ".log"))) {
      EXPECT_TRUE(not_running(std::stoi(line.substr(line.rfind(' ') + 1)))) << line;
    }
    EXPECT_EQ(snapshot(path("scratch")),
              (std::map<std::string, std::string>{{"notes.txt", "the user's own"}}))
        << name;
  }
}

// `bomf search --help` and `bomf report --help`: status 0, every main option described.
TEST(BomfHelp, SearchAndReportDescribeTheirOptions) {
  const BomfRun search = run_bomf("search --help", 30s);
  EXPECT_EQ(search.status(), 0) << search.err();
  for (const char* option :
       {"members",        "--evaluate",    "--evaluator-fuses", "--objective",
        "--objectives",   "--output",      "--journal",         "--scratch",
        "--keep-scratch", "--parallel",    "--worker-env",      "--timeout",
        "--seed",         "--num-initial", "--num-iterations",  "--max-failures",
        "--baselines",    "--selection",   "--quiet",           "{weights}",
        "bomf-search-"}) {
    EXPECT_NE(search.out().find(option), std::string::npos) << option << "\n" << search.out();
  }
  const BomfRun report = run_bomf("report --help", 30s);
  EXPECT_EQ(report.status(), 0) << report.err();
  for (const char* option : {"journal", "--output", "--selection", "--selection-metric",
                             "--selection-weights", "--baseline-metric"}) {
    EXPECT_NE(report.out().find(option), std::string::npos) << option << "\n" << report.out();
  }
}

// Every wrong command line: status 2, a message naming the option and what is expected, and
// nothing written.
TEST_F(SearchCommand, RefusesWrongCommandLines) {
  const auto members = tiny_members(dir_, 3);
  const std::string out = path("out");
  const std::string base = "search" + joined(members) + " -o " + q(out);
  const std::string ok = kShellObjectives + " --evaluator-fuses --evaluate 'true {delta}'";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --evaluator-fuses --evaluate 'true {delta}'", "declare the objectives"},
      {ok + " --parallel 0", "--parallel: the value is '0', expected an integer from 1 to 1024"},
      {ok + " --timeout -1", "--timeout: the value is '-1', expected seconds ≥ 0"},
      {ok + " --seed x", "--seed: the value is 'x'"},
      {ok + " --num-iterations -1", "--num-iterations: the value is '-1'"},
      {ok + " --lower-bounds 0.5,0.6,0", "--lower-bounds: lower_bounds sum to 1.1"},
      {ok + " --upper-bounds 0.5,0.5", "--upper-bounds has 2 values"},
      {kShellObjectives + " --evaluate 'x {weight}'", "unknown placeholder {weight}"},
      {kShellObjectives + " --evaluator-fuses --evaluate 'x {weights}'",
       "with --evaluator-fuses bomf writes no fused checkpoint"},
      {kShellObjectives + " --evaluate 'true'", "uses neither {weights} nor {scratch}"},
      {ok + " --selection best_metric --selection-metric nope",
       "--selection-metric: 'nope' is not a metric here, expected one of: acc"},
      {ok + " --selection weighted_sum --selection-weights 1",
       "--selection-weights: weights has 1"},
      {ok + " --baselines swa,soup", "--baselines: 'soup'"},
      {ok + " --worker-env 1X=3", "'1X' is not a variable name"},
      {ok + " --lower-bounds ''", "--lower-bounds: the value is empty, expected one real"},
      {ok + " --journal ''", "--journal: the value is empty, expected a file path"},
      {ok + " --journal " + q(out + "/report.md"), "--journal: '" + out +
                                                       "/report.md' is the file '" + out +
                                                       "/report.md' that the search "
                                                       "writes"},
      {ok + " --journal " + q(out + "/fused.safetensors"), "that the search writes"},
      {ok + " --journal " + q(out + "/../out/methods.csv"), "that the search writes"},
      {ok + " --anchor-value nope=1",
       "--anchor-value 'nope=1': 'nope' is not an objective here, expected one of: loss, acc"},
      {ok + " --anchor-value acc", "--anchor-value: 'acc' is not key=value"},
      {ok + " --anchor-value acc=x",
       "--anchor-value: the value of 'acc' is 'x', expected a finite real number"},
      {ok + " --anchor-value acc=1 --anchor-value acc=2",
       "--anchor-value 'acc=2': objective 'acc' is given twice"},
      {ok + " --range-value loss=0",
       "--range-value 'loss=0': the range of 'loss' is 0, expected a value from 1e-12 to 1e+15"},
      {ok + " --range-value acc=1e-13", "the range of 'acc' is 1e-13, expected a value from"},
      {ok + " --anchor-value acc=1e308",
       "--anchor-value 'acc=1e308': the anchor of 'acc' is 1e308, expected a value within ±1e+15"},
      {ok + " --anchor-value acc=1e-400",
       "--anchor-value: the value of 'acc' is '1e-400', "
       "expected a finite real number (it is not 0 but rounds to 0"},
      {ok + " --range-value acc=nan", "--range-value: the value of 'acc' is 'nan'"},
  };
  for (const auto& [arguments, expected] : cases) {
    const BomfRun r = run_bomf(base + arguments);
    EXPECT_EQ(r.status(), 2) << arguments << "\n" << r.err();
    EXPECT_NE(r.err().find(expected), std::string::npos) << arguments << "\n" << r.err();
    EXPECT_FALSE(fs::exists(out)) << arguments;
  }
  const BomfRun one = run_bomf("search " + q(members[0]) + " -o " + q(out) + ok);
  EXPECT_EQ(one.status(), 2);
  EXPECT_NE(one.err().find("at least 2 member checkpoints"), std::string::npos) << one.err();
}

// A search whose reference point no evaluation beats in every objective (here an --anchor-value
// of 2 for an accuracy of at most 1) is blind: its warning, on standard output and in the report,
// names the options of bomf search, not the library's C++ settings. With --move-reference-point
// the reference point moves to the evaluations' nadir and the hypervolume becomes positive; the
// journal records the settings, and bomf report replays them into the same report.
TEST_F(SearchCommand, ABlindSearchIsAdvisedInCommandLineOptionsAndCanMoveItsReferencePoint) {
  const auto members = tiny_members(dir_, 2);
  const auto search_with = [&](const std::string& anchor) {
    return "search" + joined(members) + kShellObjectives +
           " --evaluator-fuses --baselines none --num-initial 2 --num-iterations 2 " + anchor +
           " --evaluate " + q("sh " + q(shell_evaluator(dir_)) + " {delta}");
  };
  const std::string common = search_with("--anchor-value acc=2");
  const auto expect_command_line_names = [](const std::string& text, const std::string& what) {
    for (const char* library : {"blind_search", "anchor_overrides", "NormalizationAnchor", "::"}) {
      EXPECT_EQ(text.find(library), std::string::npos) << what << " names " << library << "\n"
                                                       << text;
    }
  };

  const BomfRun blind = run_bomf(common + " -o " + q(path("blind")));
  ASSERT_EQ(blind.status(), 0) << blind.err();
  EXPECT_NE(blind.out().find("blind search: the normalized hypervolume is 0 after"),
            std::string::npos)
      << blind.out();
  EXPECT_NE(blind.out().find("What to do: move the anchors to worse values (--anchor-value "
                             "NAME=VALUE: a lower 'acc'), or add --move-reference-point (with a "
                             "new output directory or --journal: a journal's settings are fixed)."),
            std::string::npos)
      << blind.out();
  expect_command_line_names(blind.out(), "the summary");
  const std::string blind_md = read_bytes(path("blind/report.md"));
  EXPECT_NE(blind_md.find("--move-reference-point"), std::string::npos) << blind_md;
  expect_command_line_names(blind_md, "report.md");
  expect_same_report(path("blind"), path("blind/journal.jsonl"), path("blind_report"));

  // A loss anchor below every loss: a worse loss anchor is a higher one.
  const BomfRun low = run_bomf(search_with("--anchor-value ' loss=-1'") + " -o " + q(path("low")));
  ASSERT_EQ(low.status(), 0) << low.err();
  EXPECT_NE(low.out().find("no evaluation improves 'loss' on the reference"), std::string::npos)
      << low.out();
  EXPECT_NE(low.out().find("(--anchor-value NAME=VALUE: a higher 'loss')"), std::string::npos)
      << low.out();

  const BomfRun moved =
      run_bomf(common + " --move-reference-point --range-value acc=0.5 -o " + q(path("moved")));
  ASSERT_EQ(moved.status(), 0) << moved.err();
  EXPECT_NE(moved.out().find("The reference point is moved to the nadir of the evaluations so "
                             "far (--move-reference-point)."),
            std::string::npos)
      << moved.out();
  expect_command_line_names(moved.out(), "the summary");
  nlohmann::json settings;
  for (const std::string& line : lines_of(path("moved/journal.jsonl"))) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.value("kind", std::string()) == "fusion_search_settings") {
      settings = j;
    }
  }
  ASSERT_TRUE(settings.is_object());
  EXPECT_EQ(settings["blind_search"]["move_reference_point"], true) << settings.dump();
  EXPECT_EQ(settings["normalization"]["anchor_overrides"], nlohmann::json::parse("[null, 2.0]"))
      << settings.dump();
  EXPECT_EQ(settings["normalization"]["range_overrides"], nlohmann::json::parse("[null, 0.5]"))
      << settings.dump();
  // report.csv: record,source,proposal,status,reused,pareto,hypervolume,…
  const std::vector<std::string> rows = lines_of(path("moved/report.csv"));
  ASSERT_GE(rows.size(), 2u);
  std::vector<std::string> last;
  std::stringstream fields(rows.back());
  for (std::string field; std::getline(fields, field, ',');) {
    last.push_back(field);
  }
  ASSERT_GE(last.size(), 7u) << rows.back();
  EXPECT_GT(std::stod(last[6]), 0.0) << "the hypervolume after the move: " << rows.back();
  expect_same_report(path("moved"), path("moved/journal.jsonl"), path("moved_report"));
}

// When every member's evaluation fails the normalization has no anchor: the search stops with
// status 3, and its advice names bomf search's options, not the library's C++ settings.
TEST_F(SearchCommand, EveryMemberFailingStopsTheSearchWithCommandLineAdvice) {
  const auto members = tiny_members(dir_, 2);
  const BomfRun r = run_bomf("search" + joined(members) + kShellObjectives +
                             " --evaluator-fuses --evaluate 'false {delta}' -o " + q(path("out")));
  EXPECT_EQ(r.status(), 3) << r.err();
  EXPECT_NE(r.err().find("the search stopped: every member evaluation failed, so the "
                         "normalization has no anchor"),
            std::string::npos)
      << r.err();
  EXPECT_NE(r.err().find("or give every objective an --anchor-value NAME=VALUE (with a new "
                         "output directory or --journal)"),
            std::string::npos)
      << r.err();
  const std::string md = read_bytes(path("out/report.md"));
  EXPECT_NE(md.find("nothing to select from (every member evaluation failed)"), std::string::npos)
      << md;
  for (const std::string& text : {r.out(), r.err(), md}) {
    for (const char* library : {"bomf::", "FusionSearchOptions", "anchor_overrides"}) {
      EXPECT_EQ(text.find(library), std::string::npos) << library << " in\n" << text;
    }
  }
}

// Review of the CLI (stop 29): a file the search would write into its output directory (the
// report files, the fused checkpoint, the baselines' with --write-baselines) that is a member,
// the journal or the objectives file is refused before anything is evaluated, and the file is
// left unchanged; a journal path that names another kind of file is never truncated.
TEST_F(SearchCommand, NeverWritesOverAMemberTheJournalOrTheObjectivesFile) {
  const auto members = tiny_members(dir_, 2);
  const std::string out = path("out");
  fs::create_directories(out);
  const std::string evaluate =
      " --evaluator-fuses -q --num-initial 1 --num-iterations 1 --evaluate " +
      q("sh " + q(shell_evaluator(dir_)) + " {delta}");
  // A member that sits in the output directory under a report file's name, or a baseline's.
  for (const char* name : {"report.md", "methods.csv", "swa.safetensors"}) {
    fs::copy_file(members[1], out + "/" + name, fs::copy_options::overwrite_existing);
    const std::string before = read_bytes(out + "/" + name);
    const BomfRun r = run_bomf("search " + q(members[0]) + " " + q(out + "/" + name) +
                               kShellObjectives + evaluate + " --write-baselines -o " + q(out));
    EXPECT_EQ(r.status(), 2) << name << "\n" << r.err();
    EXPECT_NE(r.err().find("is the member file"), std::string::npos) << name << "\n" << r.err();
    EXPECT_EQ(read_bytes(out + "/" + name), before) << name;
    EXPECT_FALSE(fs::exists(out + "/journal.jsonl")) << name << ": nothing was evaluated";
    fs::remove(out + "/" + name);
  }
  // The objectives file as the journal, or as a report file; its bytes stay.
  const std::string objectives = R"({"objectives": [{"name": "loss", "kind": "loss"}, )"
                                 R"({"name": "acc", "kind": "metric"}]})";
  write_bytes(path("objectives.json"), objectives);
  const std::string common = "search" + joined(members) + " --objectives " +
                             q(path("objectives.json")) + evaluate + " -o " + q(out);
  BomfRun r = run_bomf(common + " --journal " + q(path("objectives.json")));
  EXPECT_EQ(r.status(), 2) << r.err();
  EXPECT_NE(r.err().find("is the --objectives file"), std::string::npos) << r.err();
  write_bytes(out + "/report.csv", objectives);
  r = run_bomf("search" + joined(members) + " --objectives " + q(out + "/report.csv") + evaluate +
               " -o " + q(out));
  EXPECT_EQ(r.status(), 2) << r.err();
  EXPECT_NE(r.err().find("which is the --objectives file"), std::string::npos) << r.err();
  EXPECT_EQ(read_bytes(path("objectives.json")), objectives);
  EXPECT_EQ(read_bytes(out + "/report.csv"), objectives);
  // Any other file without a complete line given as the journal: refused, unchanged.
  write_bytes(path("notes.txt"), "my notes, no newline");
  r = run_bomf(common + " --journal " + q(path("notes.txt")));
  EXPECT_EQ(r.status(), 1) << r.err();
  EXPECT_NE(r.err().find("is not a journal of this run; it was left unchanged"), std::string::npos)
      << r.err();
  EXPECT_EQ(read_bytes(path("notes.txt")), "my notes, no newline");
  // A journal path that is a symbolic link to a report file not written yet: caught once the
  // journal exists, before anything is evaluated.
  fs::remove_all(out);
  fs::create_symlink(out + "/report.svg", path("link.jsonl"));
  r = run_bomf("search" + joined(members) + kShellObjectives + evaluate + " -o " + q(out) +
               " --journal " + q(path("link.jsonl")));
  EXPECT_EQ(r.status(), 2) << r.err();
  EXPECT_NE(r.err().find("that the search writes into its output directory"), std::string::npos)
      << r.err();
  EXPECT_EQ(evaluation_records(path("link.jsonl")).size(), 0u);
  // A limit below a millisecond is a millisecond, not "no limit".
  const BomfRun timed = run_bomf("search" + joined(members) + kShellObjectives +
                                 " --evaluator-fuses -q --num-initial 0 --num-iterations 0 "
                                 "--baselines none --timeout 0.0001 -o " +
                                 q(path("timed")) + " --evaluate " +
                                 q("sleep 1; sh " + q(shell_evaluator(dir_)) + " {delta}"));
  EXPECT_EQ(timed.status(), 3) << timed.err();
  const auto records = evaluation_records(path("timed/journal.jsonl"));
  ASSERT_FALSE(records.empty());
  for (const auto& record : records) {
    EXPECT_NE(record.dump().find("timed out"), std::string::npos) << record.dump();
  }
}

class ReportCommand : public ScratchDirectory {
 protected:
  /// A small finished search (shell evaluator) with its journal at out/journal.jsonl.
  std::string small_search(const std::string& extra = {}) {
    const auto members = tiny_members(dir_, 2);
    const BomfRun r =
        run_bomf("search" + joined(members) + kShellObjectives +
                 " --evaluator-fuses -q --num-initial 1 --num-iterations 1 -o " + q(path("out")) +
                 " --evaluate " + q("sh " + q(shell_evaluator(dir_)) + " {delta}") + extra);
    EXPECT_EQ(r.status(), 0) << r.err();
    return path("out/journal.jsonl");
  }
};

// A damaged journal is refused with the library's message (line and what is wrong) and never
// changed; a torn last line is left out of the report but not cut from the file; a FIFO, an
// empty file and a file that is no journal are refused clearly, without hanging.
TEST_F(ReportCommand, RefusesDamagedJournalsAndChangesNone) {
  const std::string journal = small_search();
  const std::string good = read_bytes(journal);
  const auto check = [&](const std::string& name, const std::string& bytes, int status,
                         const std::string& expected) {
    const std::string file = path(name);
    write_bytes(file, bytes);
    const BomfRun r = run_bomf("report " + q(file), 30s);
    EXPECT_EQ(r.status(), status) << name << "\n" << r.err();
    EXPECT_NE(r.err().find(expected), std::string::npos) << name << "\n" << r.err();
    EXPECT_EQ(read_bytes(file), bytes) << name << " was changed";
    return r;
  };
  std::vector<std::string> journal_lines = lines(good);
  ASSERT_GE(journal_lines.size(), 5u);
  std::string changed = journal_lines[3];  // an evaluation record (line 4)
  const std::size_t digit = changed.find_first_of("123456789", changed.find("\"loss\""));
  changed[digit] = changed[digit] == '9' ? '8' : static_cast<char>(changed[digit] + 1);
  std::string damaged;
  std::string removed;
  for (std::size_t i = 0; i < journal_lines.size(); ++i) {
    damaged += (i == 3 ? changed : journal_lines[i]) + "\n";
    removed += i == 3 ? "" : journal_lines[i] + "\n";
  }
  check("changed.jsonl", damaged, 1, "line 4 fails its checksum");
  check("removed.jsonl", removed, 1, "line 4 has sequence number");
  const BomfRun torn = check("torn.jsonl", good.substr(0, good.size() - 10), 0,
                             "the journal's last line is incomplete");
  EXPECT_NE(torn.out().find("# BOMF fusion report"), std::string::npos);
  check("empty.jsonl", "", 1, "is empty");
  check("binary.jsonl", std::string("\0\xff\0\xff", 4), 1,
        "has no complete line (4 bytes without a newline)");
  check("other.jsonl", "{\"a\": 1}\n", 1, "has format version (none)");
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  const BomfRun fifo = run_bomf("report " + q(path("fifo")), 30s);
  EXPECT_EQ(fifo.status(), 1) << fifo.err();
  EXPECT_NE(fifo.err().find("FIFO"), std::string::npos) << fifo.err();
  const BomfRun missing = run_bomf("report " + q(path("missing.jsonl")), 30s);
  EXPECT_EQ(missing.status(), 1) << missing.err();
  EXPECT_EQ(missing.err().find("bomf report: bomf report:"), std::string::npos) << missing.err();
  // The report's files must not replace the journal.
  fs::create_directories(path("rr"));
  write_bytes(path("rr/report.csv"), good);
  const BomfRun over = run_bomf("report " + q(path("rr/report.csv")) + " -o " + q(path("rr")));
  EXPECT_EQ(over.status(), 2) << over.err();
  EXPECT_NE(over.err().find("would replace the journal"), std::string::npos) << over.err();
  EXPECT_EQ(read_bytes(path("rr/report.csv")), good);
  EXPECT_EQ(read_bytes(journal), good);
}

// A journal that a running search holds (locked) is reported, read-only, with a note; the
// search is not disturbed and finishes.
TEST_F(ReportCommand, ReportsTheJournalOfARunningSearch) {
  const auto members = tiny_members(dir_, 2);
  cli::ProcessPool background;
  cli::ProcessSpec spec;
  spec.command = q(BOMF_EXECUTABLE) + " search" + joined(members) + kShellObjectives +
                 " --evaluator-fuses -q --baselines none --num-initial 1 --num-iterations 2 -o " +
                 q(path("out")) + " --evaluate " + q("sh " + q(shell_evaluator(dir_)) + " {delta}");
  spec.environment = {{"SLEEP", "2"}};  // 5 evaluations of 2 s: the report runs during them
  spec.timeout = 120s;
  background.start(spec);
  wait_for_records(path("out/journal.jsonl"), 1);
  const BomfRun r = run_bomf("report " + q(path("out/journal.jsonl")));
  EXPECT_EQ(r.status(), 0) << r.err();
  EXPECT_NE(r.err().find("in use by a running search"), std::string::npos) << r.err();
  EXPECT_NE(r.out().find("# BOMF fusion report"), std::string::npos);
  std::vector<std::pair<cli::ProcessPool::Id, cli::ProcessResult>> done;
  while (done.empty()) {
    done = background.wait();
  }
  EXPECT_TRUE(done.front().second.ok()) << done.front().second.stderr_tail;
  EXPECT_EQ(evaluation_records(path("out/journal.jsonl")).size(), 5u);
}

// A journal written by a program that uses the library (as the flagship does: a FusionEvaluator
// shared by solve and the baselines): `bomf report` finds the library's own results in it, and
// says which baselines the journal cannot give (Greedy SWA ranked by another metric).
TEST_F(ReportCommand, ReportsAJournalWrittenByTheLibrary) {
  FusionObjectives objectives;
  objectives.loss_name = "nll";
  objectives.metrics = {{"f1", Direction::maximize}, {"error", Direction::minimize}};
  auto problem = make_fusion_problem(
      3, objectives,
      [](const Eigen::VectorXd& d) -> FusionEvaluation {
        const double loss = (d - Eigen::Vector3d(0.2, 0.5, 0.3)).squaredNorm();
        // Members ranked 2, 3, 1 by f1 but 3, 1, 2 by error: Greedy SWA's soups differ.
        return {loss, Eigen::Vector2d(0.9 - loss + 0.05 * d(0), 0.5 - 0.4 * d(2) - 0.2 * d(0))};
      },
      "a flagship-like problem");
  const std::string journal = path("run.fusion.jsonl");
  FusionResult bomf_result, best, swa, greedy;
  {
    FusionEvaluator evaluator(problem, journal);
    FusionSearchOptions options;
    options.seed = 7;
    options.num_iterations = 3;
    bomf_result = solve(options, evaluator);
    best = best_single_member(evaluator);
    (void)last_checkpoint(evaluator);
    swa = uniform_average(evaluator);
    greedy = greedy_swa(evaluator);
  }
  const BomfRun r = run_bomf("report " + q(journal) + " -o " + q(path("report")));
  ASSERT_EQ(r.status(), 0) << r.err();
  const auto delta_in = [](const std::vector<std::string>& row) {
    std::vector<double> delta;
    for (std::size_t k = 5; k < 8; ++k) {
      delta.push_back(std::stod(row.at(k)));
    }
    return delta;
  };
  const auto expect_row = [&](const std::string& method, const FusionResult& result) {
    const std::vector<std::string> row = method_row(path("report/methods.csv"), method);
    ASSERT_GE(row.size(), 8u) << method;
    EXPECT_EQ(row[1], "true") << method;
    EXPECT_EQ(std::stod(row[2]), result.evaluation.loss) << method;
    EXPECT_EQ(delta_in(row), std::vector<double>(result.delta.data(), result.delta.data() + 3))
        << method;
  };
  expect_row("BOMF", bomf_result);
  expect_row("best member", best);
  expect_row("SWA", swa);
  expect_row("Greedy SWA", greedy);
  EXPECT_NE(read_bytes(path("report/report.md"))
                .find("Objectives: `nll` (the loss, minimized), "
                      "`f1` (maximized), `error` (minimized)"),
            std::string::npos);

  const BomfRun other = run_bomf("report " + q(journal) + " --baseline-metric error");
  ASSERT_EQ(other.status(), 0) << other.err();
  EXPECT_NE(other.out().find("| Greedy SWA | — | — | — | — | incomplete"), std::string::npos)
      << other.out();
  const BomfRun wrong = run_bomf("report " + q(journal) + " --baseline-metric accuracy");
  EXPECT_EQ(wrong.status(), 2) << wrong.err();
  EXPECT_NE(wrong.err().find("expected one of: f1, error"), std::string::npos) << wrong.err();
}

}  // namespace
}  // namespace bomf::test
