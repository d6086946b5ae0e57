// `bomf fuse`, run as a subprocess: what it writes, and every hostile input of issue 20 — each
// refused or failed run must leave the directory (inputs included) byte for byte as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <Eigen/Core>
#include <filesystem>
#include <string>
#include <vector>

#include "../fusion/fusion_test_util.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/io/torch_archive.hpp"
#include "cli/fusion_arguments.hpp"
#include "cli_test_util.hpp"

namespace bomf {
namespace {

namespace fs = std::filesystem;
using test::q;
using test::run_bomf;
using test::snapshot;

class FuseCli : public test::ScratchDirectory {
 protected:
  void SetUp() override {
    ScratchDirectory::SetUp();
    for (std::uint32_t i = 0; i < 3; ++i) {
      members_.push_back(test::random_state_dict(at::kFloat, 10 + i));
      save_safetensors(path(names_[i]), members_[i], {{"format", "pt"}});
    }
  }

  [[nodiscard]] std::string inputs() const {
    return q(path(names_[0])) + " " + q(path(names_[1])) + " " + q(path(names_[2]));
  }

  /// Runs `bomf fuse <arguments>`, expects exit status `status` and a message holding `needle`,
  /// and that nothing under the scratch directory changed.
  test::BomfRun expect_refused(const std::string& arguments, int status,
                               const std::string& needle) {
    const auto before = snapshot(dir_);
    test::BomfRun run = run_bomf("fuse " + arguments);
    EXPECT_EQ(run.status(), status) << arguments << "\n" << run.err();
    EXPECT_NE(run.err().find(needle), std::string::npos)
        << "expected '" << needle << "' in: " << run.err();
    EXPECT_EQ(snapshot(dir_), before) << "bomf fuse " << arguments << " changed the directory";
    return run;
  }

  const std::vector<std::string> names_ = {"a.safetensors", "b.safetensors", "c.safetensors"};
  std::vector<StateDict> members_;
};

void expect_state_dicts_equal(const StateDict& a, const StateDict& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].first, b[k].first);
    EXPECT_TRUE(a[k].second.equal(b[k].second)) << a[k].first;
  }
}

TEST_F(FuseCli, WritesTheLibrarysFusion) {
  const auto run =
      run_bomf("fuse -q -c 0.2,0.3,0.5 -o " + q(path("fused.safetensors")) + " " + inputs());
  ASSERT_EQ(run.status(), 0) << run.err();
  const Eigen::Vector3d delta(0.2, 0.3, 0.5);
  expect_state_dicts_equal(load_safetensors(path("fused.safetensors")),
                           fuse_state_dicts(members_, delta));
  const auto uniform =
      run_bomf("fuse -q --uniform --dtype bf16 -o " + q(path("swa.safetensors")) + " " + inputs());
  ASSERT_EQ(uniform.status(), 0) << uniform.err();
  FusionOptions bf16;
  bf16.output_dtype = at::kBFloat16;
  expect_state_dicts_equal(load_safetensors(path("swa.safetensors")),
                           fuse_state_dicts(members_, Eigen::Vector3d::Constant(1.0 / 3), bf16));
}

// On a terminal `bomf fuse` draws a progress bar that ends at 100 % on a line of its own; through
// a pipe, or with -q, it draws none. The three outputs are the same file.
TEST_F(FuseCli, DrawsAProgressBarOnlyOnATerminal) {
  const test::TerminalRun terminal = test::run_bomf_on_terminal(
      "fuse --uniform -o " + q(path("tty.safetensors")) + " " + inputs());
  if (!terminal.unavailable.empty()) {
    GTEST_SKIP() << "no pseudo-terminal on this machine (" << terminal.unavailable << ")";
  }
  ASSERT_FALSE(terminal.timed_out) << terminal.text;
  ASSERT_EQ(terminal.status, 0) << terminal.text;
  EXPECT_NE(terminal.text.find("\r[##############################] 100.0%"), std::string::npos)
      << terminal.text;
  const std::size_t end = terminal.text.find("100.0%");
  ASSERT_NE(end, std::string::npos);
  EXPECT_NE(terminal.text.find("\r\n", end), std::string::npos) << "the bar ends its line";
  const test::BomfRun piped =
      run_bomf("fuse --uniform -o " + q(path("pipe.safetensors")) + " " + inputs());
  ASSERT_EQ(piped.status(), 0) << piped.err();
  EXPECT_EQ(piped.out().find("[#"), std::string::npos) << piped.out();
  EXPECT_EQ(piped.err().find("[#"), std::string::npos) << piped.err();
  const test::TerminalRun quiet = test::run_bomf_on_terminal(
      "fuse -q --uniform -o " + q(path("quiet.safetensors")) + " " + inputs());
  ASSERT_EQ(quiet.status, 0) << quiet.text;
  EXPECT_EQ(quiet.text.find("[#"), std::string::npos) << quiet.text;
  EXPECT_EQ(test::read_bytes(path("tty.safetensors")), test::read_bytes(path("pipe.safetensors")));
  EXPECT_EQ(test::read_bytes(path("tty.safetensors")), test::read_bytes(path("quiet.safetensors")));
}

TEST_F(FuseCli, HelpOfTheSubcommandExitsZero) {
  const auto run = run_bomf("fuse --help");
  EXPECT_EQ(run.status(), 0);
  EXPECT_NE(run.out().find("--coefficients"), std::string::npos) << run.out();
}

// Hostile input 1: -o equal to an input, a symbolic link or a hard link to it replaced it.
TEST_F(FuseCli, OutputThatIsAnInputIsRefused) {
  expect_refused("-c 0.2,0.3,0.5 -o " + q(path("b.safetensors")) + " " + inputs(), 2, "is input 2");
  fs::create_symlink(path("b.safetensors"), path("link.safetensors"));
  expect_refused("-c 0.2,0.3,0.5 -o " + q(path("link.safetensors")) + " " + inputs(), 2,
                 "symbolic or hard link");
  fs::create_hard_link(path("c.safetensors"), path("hard.safetensors"));
  expect_refused("-c 0.2,0.3,0.5 -o " + q(path("hard.safetensors")) + " " + inputs(), 2,
                 "is input 3");
  // Another spelling of the same path.
  fs::create_directories(dir_ / "x");
  expect_refused("-c 0.2,0.3,0.5 -o " + q(path("x/../a.safetensors")) + " " + inputs(), 2,
                 "is input 1");
}

TEST_F(FuseCli, OutputThatIsAShardOfAnInputIsRefused) {
  fs::create_directories(dir_ / "sharded");
  const std::string index =
      save_sharded_safetensors((dir_ / "sharded").string(), members_[0], 4096);
  std::string shard;
  for (const auto& entry : fs::directory_iterator(dir_ / "sharded")) {
    if (entry.path().extension() == ".safetensors") {
      shard = entry.path().string();
    }
  }
  ASSERT_FALSE(shard.empty());
  expect_refused("--uniform -o " + q(shard) + " " + q(index) + " " + q(index), 2, "member file");
}

// Hostile input 2: the fixed temporary name <output>.tmp truncated an input named so, clobbered
// an unrelated file, and made two runs on one output collide.
TEST_F(FuseCli, AnInputNamedLikeTheOutputsTemporaryIsOnlyRead) {
  fs::rename(path("a.safetensors"), path("fused.safetensors.tmp"));
  const std::string before = test::read_bytes(path("fused.safetensors.tmp"));
  const auto run = run_bomf("fuse -q -c 0.2,0.3,0.5 -o " + q(path("fused.safetensors")) + " " +
                            q(path("fused.safetensors.tmp")) + " " + q(path("b.safetensors")) +
                            " " + q(path("c.safetensors")));
  ASSERT_EQ(run.status(), 0) << run.err();
  EXPECT_EQ(test::read_bytes(path("fused.safetensors.tmp")), before);
  expect_state_dicts_equal(load_safetensors(path("fused.safetensors")),
                           fuse_state_dicts(members_, Eigen::Vector3d(0.2, 0.3, 0.5)));
}

TEST_F(FuseCli, AnUnrelatedTmpFileIsLeftAlone) {
  test::write_bytes(path("out.safetensors.tmp"), "somebody else's file");
  const auto run = run_bomf("fuse -q --uniform -o " + q(path("out.safetensors")) + " " + inputs());
  ASSERT_EQ(run.status(), 0) << run.err();
  EXPECT_EQ(test::read_bytes(path("out.safetensors.tmp")), "somebody else's file");
}

TEST_F(FuseCli, TwoRunsOnOneOutputDoNotCollide) {
  // Small chunks make each run long enough to overlap the other.
  cli::ProcessPool pool;
  const std::vector<std::string> coefficients = {"1,0,0", "0,0,1"};
  for (const auto& c : coefficients) {
    cli::ProcessSpec spec;
    spec.command = q(BOMF_EXECUTABLE) + " fuse -q --chunk-elements 7 -c " + c + " -o " +
                   q(path("out.safetensors")) + " " + inputs();
    spec.timeout = std::chrono::seconds(120);
    pool.start(spec);
  }
  for (int done = 0; done < 2;) {
    for (auto& [id, result] : pool.wait()) {
      EXPECT_TRUE(result.ok()) << result.describe() << "\n" << result.stderr_tail;
      ++done;
    }
  }
  const StateDict out = load_safetensors(path("out.safetensors"));  // complete, one of the two
  const bool first = out[0].second.equal(members_[0][0].second);
  expect_state_dicts_equal(
      out, fuse_state_dicts(members_, first ? Eigen::Vector3d(1, 0, 0) : Eigen::Vector3d(0, 0, 1)));
  for (const auto& entry : fs::directory_iterator(dir_)) {  // no temporary left behind
    EXPECT_EQ(entry.path().filename().string().find(".bomf-"), std::string::npos) << entry.path();
  }
}

// Hostile input 3: a FIFO (or any non-regular file) as input hung.
TEST_F(FuseCli, AFifoInputIsRefusedWithoutHanging) {
  ASSERT_EQ(::mkfifo(path("pipe.safetensors").c_str(), 0600), 0);
  const auto run = expect_refused("-c 0.5,0.5 -o " + q(path("out.safetensors")) + " " +
                                      q(path("a.safetensors")) + " " + q(path("pipe.safetensors")),
                                  1, "FIFO");
  EXPECT_LT(run.process.seconds, 60.0);
  ASSERT_EQ(::mkfifo(path("pipe.index.json").c_str(), 0600), 0);
  expect_refused("--uniform -o " + q(path("out.safetensors")) + " " + q(path("pipe.index.json")) +
                     " " + q(path("pipe.index.json")),
                 1, "FIFO");
  expect_refused("--uniform -o " + q(path("out.safetensors")) + " /dev/zero /dev/zero", 1,
                 "character device");
}

// Hostile input 4: "-c 0.5,,0.5" was read as two coefficients.
TEST_F(FuseCli, MalformedCoefficientListsAreRefusedNamingTheField) {
  const std::string out = " -o " + q(path("out.safetensors")) + " " + inputs();
  expect_refused("-c 0.5,,0.5" + out, 2, "field 2 of '0.5,,0.5' is empty");
  expect_refused("-c ,0.5,0.5" + out, 2, "field 1 of ',0.5,0.5' is empty");
  expect_refused("-c 0.5,0.5," + out, 2, "field 3 of '0.5,0.5,' is empty");
  expect_refused("-c 0.2,abc,0.5" + out, 2, "field 2 of '0.2,abc,0.5' is 'abc'");
  expect_refused("-c 0.2,0.3x,0.5" + out, 2, "field 2 of '0.2,0.3x,0.5' is '0.3x'");
  expect_refused("-c 0.2,nan,0.5" + out, 2, "expected a finite real number");
  expect_refused("-c 0.2,inf,0.5" + out, 2, "expected a finite real number");
  expect_refused("-c 0.2,1e999,0.5" + out, 2, "overflows");
  expect_refused("-c 0.5,0.5" + out, 2, "has 2 values");
  expect_refused("--simplex -c 0.5,0.6,-0.1" + out, 2, "coefficient 3 is -0.1");
  expect_refused(out, 2, "give the coefficients");
}

// Hostile input 5: "--threads 0" printed "not in range 0.000000 to 1.79e308".
TEST_F(FuseCli, ZeroThreadsOrChunkSayWhatIsExpected) {
  const std::string rest = " --uniform -o " + q(path("out.safetensors")) + " " + inputs();
  const auto threads = expect_refused("--threads 0" + rest, 2,
                                      "--threads: the value is '0', expected an integer from 1 to "
                                      "4096 (libtorch intra-op threads)");
  EXPECT_EQ(threads.err().find("1.79"), std::string::npos) << threads.err();
  const auto chunk = expect_refused("--chunk-elements 0" + rest, 2,
                                    "--chunk-elements: the value is '0', expected an integer from "
                                    "1 to");
  EXPECT_EQ(chunk.err().find("1.79"), std::string::npos) << chunk.err();
  expect_refused("--threads two" + rest, 2, "--threads: the value is 'two'");
  expect_refused("--integers-from 4" + rest, 2, "--integers-from: the value is '4'");
  expect_refused("--metadata novalue" + rest, 2, "--metadata: 'novalue' is not key=value");
}

TEST_F(FuseCli, IncompatibleOrMissingInputsFailWithoutWriting) {
  StateDict other = members_[0];
  other.at("embed.weight") = other.at("embed.weight").narrow(0, 0, 3).contiguous();
  save_safetensors(path("other.safetensors"), other);
  expect_refused("--uniform -o " + q(path("out.safetensors")) + " " + q(path("a.safetensors")) +
                     " " + q(path("other.safetensors")),
                 1, "embed.weight");
  expect_refused("--uniform -o " + q(path("out.safetensors")) + " " + q(path("a.safetensors")) +
                     " " + q(path("missing.safetensors")),
                 2, "missing.safetensors");
  test::write_bytes(path("garbage.safetensors"), "not a checkpoint at all");
  expect_refused("--uniform -o " + q(path("out.safetensors")) + " " + q(path("a.safetensors")) +
                     " " + q(path("garbage.safetensors")),
                 1, "garbage.safetensors");
  expect_refused("--uniform -o " + q(path("no/such/dir/out.safetensors")) + " " + inputs(), 1,
                 "cannot create a temporary file");
}

// Review of the CLI (stop 29): writing replaces whatever the output path names, so a FIFO or a
// device there (as root, -o /dev/null became a regular file) is refused, as are empty values,
// and an input's mismatch names it by its 1-based position.
TEST_F(FuseCli, OutputsThatAreNotRegularFilesAndEmptyValuesAreRefused) {
  const std::string rest = " --uniform " + inputs();
  ASSERT_EQ(::mkfifo(path("pipe").c_str(), 0600), 0);
  expect_refused("-o " + q(path("pipe")) + rest, 2,
                 "exists and is a FIFO (named pipe), expected a regular file or a new path");
  EXPECT_TRUE(fs::is_fifo(path("pipe")));
  fs::create_directory(path("adir"));
  expect_refused("-o " + q(path("adir")) + rest, 2, "exists and is a directory");
  expect_refused("-o ''" + rest, 2, "the value is empty, expected a file or directory path");
  expect_refused("-c '' -o " + q(path("out.safetensors")) + " " + inputs(), 2,
                 "the value is empty, expected δ_1,…,δ_N");
  StateDict fewer;
  for (std::size_t k = 0; k < members_[0].size(); ++k) {
    if (members_[0][k].first != "embed.weight") {
      fewer.insert(members_[0][k].first, members_[0][k].second);
    }
  }
  save_safetensors(path("fewer.safetensors"), fewer);
  expect_refused("--uniform -o " + q(path("out.safetensors")) + " " + q(path("a.safetensors")) +
                     " " + q(path("fewer.safetensors")),
                 1, "input 2 of 2 ('" + path("fewer.safetensors") + "') has no tensor");
}

// Coefficients whose sums overflow give infinite values: the file is written (the user asked
// for it), with a warning that names the tensors; finite results give none.
TEST_F(FuseCli, WarnsWhenTheFusedCheckpointHoldsNonFiniteValues) {
  const test::BomfRun ok =
      run_bomf("fuse --uniform -o " + q(path("ok.safetensors")) + " " + inputs());
  ASSERT_EQ(ok.status(), 0) << ok.err();
  EXPECT_EQ(ok.err().find("warning"), std::string::npos) << ok.err();
  const test::BomfRun huge =
      run_bomf("fuse -c 1e38,1e38,1e38 -o " + q(path("huge.safetensors")) + " " + inputs());
  ASSERT_EQ(huge.status(), 0) << huge.err();
  EXPECT_NE(huge.err().find("bomf fuse: warning: '" + path("huge.safetensors") + "' holds "),
            std::string::npos)
      << huge.err();
  EXPECT_NE(huge.err().find("NaN or infinite values in"), std::string::npos) << huge.err();
  EXPECT_NE(huge.err().find("'embed.weight' ("), std::string::npos) << huge.err();
  const test::BomfRun half =
      run_bomf("fuse -c 1e5,0,0 --dtype f16 -o " + q(path("half.safetensors")) + " " + inputs());
  ASSERT_EQ(half.status(), 0) << half.err();
  EXPECT_NE(half.err().find("NaN or infinite values"), std::string::npos) << half.err();
}

TEST_F(FuseCli, MoreThreadsThanTheProcessHasCpusAreReducedWithANote) {
  const int cpus = cli::available_cpus();
  if (cpus <= 0 || cpus >= 4096) {
    GTEST_SKIP() << "the number of CPUs is unknown or ≥ 4096";
  }
  const test::BomfRun run =
      run_bomf("fuse --uniform --threads 4096 -o " + q(path("out.safetensors")) + " " + inputs());
  ASSERT_EQ(run.status(), 0) << run.err();
  EXPECT_NE(run.err().find("--threads 4096 is more than the " + std::to_string(cpus) +
                           " CPUs this process may run on; using " + std::to_string(cpus)),
            std::string::npos)
      << run.err();
}

TEST_F(FuseCli, AnInterruptedRunLeavesNothingBehind) {
  StateDict big;
  for (int k = 0; k < 40; ++k) {
    big.insert("t" + std::to_string(k), test::random_tensor({50000}, at::kFloat, 100 + k));
  }
  save_safetensors(path("big_a.safetensors"), big);
  save_safetensors(path("big_b.safetensors"), big);
  const auto before = snapshot(dir_);
  // SIGINT once the temporary output exists (bomf is writing), then the exit status.
  cli::ProcessSpec spec;
  spec.timeout = std::chrono::seconds(120);
  spec.command = q(BOMF_EXECUTABLE) + " fuse -q --chunk-elements 8 --uniform -o " +
                 q(path("out.safetensors")) + " " + q(path("big_a.safetensors")) + " " +
                 q(path("big_b.safetensors")) +
                 " & pid=$!; i=0; while [ $i -lt 2000 ] && ! ls -a " + q(dir_.string()) +
                 " | grep -q '^[.]out[.]safetensors[.]bomf-'; do sleep 0.01; i=$((i+1)); done; "
                 "kill -INT $pid; wait $pid; echo $?";
  const cli::ProcessResult r = cli::run_process(spec);
  ASSERT_TRUE(r.ok()) << r.describe() << r.stderr_tail;
  EXPECT_EQ(r.stdout_text, "130\n") << r.stderr_tail;
  EXPECT_NE(r.stderr_tail.find("interrupted by signal 2; nothing was written"), std::string::npos)
      << r.stderr_tail;
  EXPECT_EQ(snapshot(dir_), before);  // no output, no temporary, inputs intact
}

TEST_F(FuseCli, TorchSaveMembersGiveATorchSaveFile) {
  for (std::size_t i = 0; i < 3; ++i) {
    save_torch_state_dict(path("m" + std::to_string(i) + ".pt"), members_[i]);
  }
  const auto before = snapshot(dir_);
  const auto run = run_bomf("fuse -q -c 0.2,0.3,0.5 -o " + q(path("fused.pt")) + " " +
                            q(path("m0.pt")) + " " + q(path("m1.pt")) + " " + q(path("m2.pt")));
  ASSERT_EQ(run.status(), 0) << run.err();
  expect_state_dicts_equal(load_torch_state_dict(path("fused.pt")),
                           fuse_state_dicts(members_, Eigen::Vector3d(0.2, 0.3, 0.5)));
  for (const auto& [name, bytes] : before) {
    EXPECT_EQ(test::read_bytes(path(name)), bytes) << name;
  }
  expect_refused(
      "--uniform -o " + q(path("m1.pt")) + " " + q(path("m0.pt")) + " " + q(path("m1.pt")), 2,
      "is input 2");
  expect_refused(
      "--uniform -o " + q(path("x.pt")) + " " + q(path("m0.pt")) + " " + q(path("a.safetensors")),
      1, "one format");
}

}  // namespace
}  // namespace bomf
