// The journal detects damage, not only crashes: changed values, changed statuses, duplicated or
// removed lines are refused with their line number; unknown statuses are errors in both stages;
// a failed write is truncated away; only regular files are journals; older formats are refused
// naming their version; a dropped torn line is reported in the summaries.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bomf/drivers/detail/crc32c.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/drivers/hyperparameter_search.hpp"
#include "bomf/drivers/journal.hpp"
#include "drivers_test_problems.hpp"
#include "support/journal_lines.hpp"

namespace {

using bomf::FusionSearchOptions;
using bomf::Journal;
using bomf::test::DisagreeingProblem;
using bomf::test::edited;
using bomf::test::file_lines;
using bomf::test::message_of;
using bomf::test::write_lines;
using Eigen::VectorXd;

std::string temp_file(const std::string& name) {
  const std::string path =
      ::testing::TempDir() + "bomf_journal_" + std::to_string(::getpid()) + "_" + name;
  std::remove(path.c_str());
  return path;
}

nlohmann::json header() {
  return {{"format", "bomf.test_journal"}, {"version", 2}};
}

FusionSearchOptions small_search(const std::string& journal) {
  FusionSearchOptions o = bomf::test::fast_fusion_options(3, 3, /*seed=*/9);
  o.journal = journal;
  return o;
}

// A finished fusion search's journal: header, settings record, 9 evaluation records.
std::string fusion_journal(const std::string& name) {
  const std::string path = temp_file(name);
  DisagreeingProblem problem(3);
  bomf::solve(small_search(path), problem);
  return path;
}

// Index of the first line of kind "evaluation" whose status is "ok".
std::size_t first_ok_evaluation(const std::vector<std::string>& lines) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    if (j.value("kind", std::string()) == "evaluation" && j["status"] == "ok")
      return i;
  }
  return lines.size();
}

std::string fusion_error(const std::string& path) {
  DisagreeingProblem problem(3);
  return message_of<bomf::io_error>([&] { bomf::solve(small_search(path), problem); });
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(bomf::detail::crc32c("123456789"), 0xE3069283U);  // RFC 3720's check value
  EXPECT_EQ(bomf::detail::crc32c(""), 0U);
}

TEST(JournalDamage, AChangedDigitOfALossIsRefusedWithItsLine) {
  const std::string path = fusion_journal("digit.jsonl");
  std::vector<std::string> lines = file_lines(path);
  const std::size_t i = first_ok_evaluation(lines);
  ASSERT_LT(i, lines.size());
  // Change one digit of the loss, keep everything else (and the old checksum).
  const std::size_t at = lines[i].find("\"loss\":") + 9;
  lines[i][at] = lines[i][at] == '7' ? '8' : '7';
  write_lines(path, lines);
  const std::string message = fusion_error(path);
  EXPECT_MESSAGE(message, bomf::detail::concat("line ", i + 1, " fails its checksum"));
  EXPECT_MESSAGE(message, "changed after it was written");
  std::remove(path.c_str());
}

TEST(JournalDamage, OkChangedToOkCapitalizedIsRefusedAndAnUnknownStatusIsAnError) {
  const std::string path = fusion_journal("status.jsonl");
  std::vector<std::string> lines = file_lines(path);
  const std::size_t i = first_ok_evaluation(lines);
  std::string changed = lines[i];
  changed.replace(changed.find("\"status\":\"ok\""), 13, "\"status\":\"Ok\"");
  lines[i] = changed;
  write_lines(path, lines);
  EXPECT_MESSAGE(fusion_error(path), bomf::detail::concat("line ", i + 1, " fails its checksum"));
  // With a valid checksum (a tool rewrote it): the unknown status itself is refused.
  lines[i] = bomf::test::reseal(changed);
  write_lines(path, lines);
  const std::string message = fusion_error(path);
  EXPECT_MESSAGE(message, bomf::detail::concat("line ", i + 1, " is malformed"));
  EXPECT_MESSAGE(message, "'status' is \"Ok\", expected \"ok\" or \"failed\"");
  std::remove(path.c_str());
}

// Journals written before values beyond ±kFusionValueLimit were recorded as failed may hold
// such a value in an ok record: it is read as a failed one, and the search resumes (before, it
// threw at every resume, since the value overflows the normalization).
TEST(JournalCompatibility, AnOkRecordBeyondTheValueLimitIsReadAsFailed) {
  const std::string path = fusion_journal("limit.jsonl");
  std::vector<std::string> lines = file_lines(path);
  std::size_t last_ok = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    if (j.value("kind", std::string()) == "evaluation" && j["status"] == "ok")
      last_ok = i;
  }
  ASSERT_LT(last_ok, lines.size());
  lines[last_ok] = edited(lines[last_ok], [](nlohmann::json& r) { r["metrics"][0] = 1e308; });
  write_lines(path, lines);
  DisagreeingProblem problem(3);
  FusionSearchOptions options = small_search(path);
  options.num_iterations += 1;  // one more evaluation after the replay
  bomf::FusionSummary summary;
  bomf::solve(options, problem, &summary);
  int beyond = 0;
  for (const auto& row : summary.trace) {
    beyond += row.error.find("a value is beyond ±1e+15") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(beyond, 1);
  EXPECT_EQ(summary.num_failures, 1);
  EXPECT_EQ(problem.calls, 1);
  std::remove(path.c_str());
}

TEST(JournalDamage, ADuplicatedOrRemovedLineIsRefused) {
  const std::string path = fusion_journal("duplicated.jsonl");
  std::vector<std::string> lines = file_lines(path);
  const std::size_t i = first_ok_evaluation(lines);
  std::vector<std::string> duplicated = lines;
  duplicated.insert(duplicated.begin() + static_cast<std::ptrdiff_t>(i), lines[i]);
  write_lines(path, duplicated);
  std::string message = fusion_error(path);
  EXPECT_MESSAGE(message, bomf::detail::concat("line ", i + 2, " has sequence number ", i));
  EXPECT_MESSAGE(message, "duplicated, removed, reordered");
  std::vector<std::string> removed = lines;
  removed.erase(removed.begin() + static_cast<std::ptrdiff_t>(i));
  write_lines(path, removed);
  message = fusion_error(path);
  EXPECT_MESSAGE(message, bomf::detail::concat("line ", i + 1, " has sequence number ", i + 1,
                                               ", expected ", i));
  // Removing the LAST line is indistinguishable from a crash before it was written: accepted,
  // and the evaluation is made again.
  std::vector<std::string> shorter = lines;
  shorter.pop_back();
  write_lines(path, shorter);
  DisagreeingProblem problem(3);
  bomf::solve(small_search(path), problem);
  EXPECT_EQ(problem.calls, 1);
  std::remove(path.c_str());
}

TEST(JournalDamage, AChangedLearningRateInAStageOneRecordIsRefused) {
  const std::string path = temp_file("stage1.jsonl");
  bomf::SearchSpace space;
  space.add_continuous("learning_rate", 1e-5, 1e-2, bomf::Scale::log).add_integer("epochs", 1, 3);
  auto problem = bomf::make_training_problem(
      space, {{"accuracy", bomf::Direction::maximize}}, [](const bomf::Hyperparameters& h) {
        bomf::TrainingTrajectory t;
        t.add(10, 0.5, {0.5 + 10.0 * h.value("learning_rate")});
        return t;
      });
  bomf::HyperparameterSearchOptions o;
  o.num_initial = 3;
  o.num_iterations = 0;
  o.journal = path;
  (void)bomf::solve(o, problem);
  const std::vector<std::string> original = file_lines(path);
  std::vector<std::string> lines = original;
  ASSERT_EQ(lines.size(), 4u);
  const std::size_t at = lines[2].find("\"setting\":[") + 11;
  lines[2][at + 2] = lines[2][at + 2] == '1' ? '2' : '1';
  write_lines(path, lines);
  EXPECT_MESSAGE(message_of<bomf::io_error>([&] { (void)bomf::solve(o, problem); }),
                 "line 3 fails its checksum");
  // A resealed record with an unknown status: an error in stage 1 too.
  lines = original;
  lines[2] = edited(original[2], [](nlohmann::json& r) { r["status"] = "skipped"; });
  write_lines(path, lines);
  EXPECT_MESSAGE(message_of<bomf::io_error>([&] { (void)bomf::solve(o, problem); }),
                 "line 3 is malformed: 'status' is \"skipped\"");
  std::remove(path.c_str());
}

TEST(JournalFormat, AVersionOneJournalIsRefusedNamingItsVersion) {
  const std::string path = temp_file("v1.jsonl");
  {
    std::ofstream out(path);
    out << R"({"fingerprint":"disagreeing-3","format":"bomf.fusion_journal","kind":"header",)"
        << R"("loss_name":"loss","metrics":[{"direction":"maximize","name":"accuracy"}],)"
        << R"("num_members":3,"version":1})"
        << "\n";
  }
  DisagreeingProblem problem(3);
  const std::string message = message_of([&] { bomf::solve(small_search(path), problem); });
  EXPECT_MESSAGE(message, "has format version 1, this bomf reads version 2");
  EXPECT_MESSAGE(message, "start a new journal");
  // A stage-1 journal of bomf 0.1 ({"driver": …, "format": 1}) likewise.
  {
    std::ofstream out(path, std::ios::trunc);
    out << R"({"driver":"bomf::HyperparameterSearch","format":1,"kind":"header"})"
        << "\n";
  }
  bomf::SearchSpace space;
  space.add_continuous("x", 0.0, 1.0);
  bomf::HyperparameterSearchOptions o;
  o.journal = path;
  EXPECT_MESSAGE(message_of([&] {
                   bomf::HyperparameterSearch(space, {{"m", bomf::Direction::maximize}}, o);
                 }),
                 "has format version 1, this bomf reads version 2");
  // A journal of the other stage.
  std::remove(path.c_str());
  (void)bomf::HyperparameterSearch(space, {{"m", bomf::Direction::maximize}}, o);
  EXPECT_MESSAGE(message_of([&] { bomf::solve(small_search(path), problem); }),
                 "is a \"bomf.hyperparameter_journal\" journal, expected \"bomf.fusion_journal\"");
  std::remove(path.c_str());
}

TEST(JournalFile, OnlyRegularFilesAreJournals) {
  EXPECT_MESSAGE(message_of([&] { Journal("/dev/zero", header()); }),
                 "journal '/dev/zero' is a character device, expected a regular file");
  const std::string fifo = temp_file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_MESSAGE(message_of([&] { Journal(fifo, header()); }), "is a FIFO");
  std::remove(fifo.c_str());
  EXPECT_MESSAGE(message_of([&] { Journal(::testing::TempDir(), header()); }), "is a directory");
  // Through the drivers, with nothing evaluated.
  DisagreeingProblem problem(3);
  EXPECT_MESSAGE(message_of([&] { bomf::solve(small_search("/dev/zero"), problem); }),
                 "a character device");
  EXPECT_EQ(problem.calls, 0);
}

// A file with no complete line is a torn header only when its bytes begin this run's header;
// anything else (a JSON file given as the journal by mistake, a binary) is refused, unchanged.
TEST(JournalFile, AFileWithoutACompleteLineIsRecoveredOnlyWhenItBeginsThisRunsHeader) {
  const std::string path = temp_file("not_a_journal.json");
  const std::string json = R"({"objectives":[{"name":"loss","kind":"loss"}]})";
  std::string binary(200, '\0');
  binary[1] = '\xff';
  for (const std::string& content : {json, binary, std::string("{\"format\":\"bomf.other\"")}) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << content;
    }
    EXPECT_MESSAGE(message_of<bomf::io_error>([&] { Journal(path, header()); }),
                   "has no complete line, and its " + std::to_string(content.size()) +
                       " bytes are not the beginning of this run's journal header");
    std::ifstream in(path, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), content) << "left unchanged";
  }
  // Through the drivers, with nothing evaluated.
  DisagreeingProblem problem(3);
  EXPECT_MESSAGE(message_of<bomf::io_error>([&] { bomf::solve(small_search(path), problem); }),
                 "is not a journal of this run; it was left unchanged");
  EXPECT_EQ(problem.calls, 0);
  // A header cut short by a crash: dropped and reported, the journal started again.
  const std::string fresh = temp_file("torn_header.jsonl");
  { Journal first(fresh, header()); }
  const std::string line = file_lines(fresh).at(0) + "\n";
  for (const std::size_t cut : {std::size_t{1}, line.size() / 2, line.size() - 1}) {
    {
      std::ofstream out(fresh, std::ios::binary | std::ios::trunc);
      out << line.substr(0, cut);
    }
    Journal reopened(fresh, header());
    EXPECT_EQ(reopened.recovered_torn_bytes(), cut);
    EXPECT_EQ(file_lines(fresh).size(), 1u);
  }
  std::remove(path.c_str());
  std::remove(fresh.c_str());
}

// A write(2) that writes `allowed` bytes of the next call, then fails with ENOSPC.
struct FullDisk {
  static inline std::size_t allowed = 0;
  static inline int calls = 0;
  static ssize_t write(int fd, const void* data, std::size_t n) {
    ++calls;
    if (allowed == 0) {
      errno = ENOSPC;
      return -1;
    }
    const std::size_t part = std::min(n, allowed);
    allowed -= part;
    return ::write(fd, data, part);
  }
};

TEST(JournalWrite, AShortWriteThenDiskFullIsTruncatedAwayAndARetryAppendsAWholeLine) {
  const std::string path = temp_file("enospc.jsonl");
  {
    Journal journal(path, header());
    journal.append({{"kind", "evaluation"}, {"value", 1}});
    const auto size_before = file_lines(path).size();
    FullDisk::allowed = 7;  // half a line reaches the disk, then the disk is full
    bomf::detail::journal_write = &FullDisk::write;
    const std::string message = message_of<bomf::io_error>([&] {
      journal.append({{"kind", "evaluation"}, {"value", 2}});
    });
    bomf::detail::journal_write = ::write;
    EXPECT_MESSAGE(message, "No space left on device");
    EXPECT_MESSAGE(message, "truncated back to its last complete record");
    EXPECT_GE(FullDisk::calls, 2);
    EXPECT_EQ(journal.records().size(), 1u) << "the failed record is not in records()";
    EXPECT_EQ(file_lines(path).size(), size_before) << "no half line left in the file";
    // The retry in the same process.
    journal.append({{"kind", "evaluation"}, {"value", 3}});
  }
  Journal reopened(path, header());
  ASSERT_EQ(reopened.records().size(), 2u);
  EXPECT_EQ(reopened.records()[1]["value"], 3);
  EXPECT_EQ(reopened.recovered_torn_bytes(), 0u);
  std::remove(path.c_str());
}

TEST(JournalWrite, ARealShortWriteAtTheFileSizeLimitIsTruncatedAway) {
  // RLIMIT_FSIZE makes the kernel write part of a line and then fail with EFBIG — the same
  // short-write-then-error path as a full disk, without mocking write(2).
  const std::string path = temp_file("efbig.jsonl");
  Journal journal(path, header());
  journal.append({{"kind", "evaluation"}, {"value", 1}});
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto previous = ::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = old;
  limited.rlim_cur = static_cast<rlim_t>(st.st_size) + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  const std::string message = message_of<bomf::io_error>([&] {
    journal.append({{"kind", "evaluation"}, {"value", std::string(200, 'x')}});
  });
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  ::signal(SIGXFSZ, previous);
  EXPECT_MESSAGE(message, "truncated back to its last complete record");
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, st.st_size);
  journal.append({{"kind", "evaluation"}, {"value", 3}});
  EXPECT_EQ(journal.records().size(), 2u);
  journal = Journal();  // closes the file and releases its lock
  const Journal reopened(path, header());
  ASSERT_EQ(reopened.records().size(), 2u);
  EXPECT_EQ(reopened.records()[1]["value"], 3);
  std::remove(path.c_str());
}

TEST(JournalTornLine, ADroppedTornLineIsReportedInBothSummaries) {
  const std::string path = fusion_journal("torn_summary.jsonl");
  const std::string torn = R"({"kind":"evaluation","delta":[0.2,)";  // a crash mid-write
  {
    std::ofstream out(path, std::ios::app);
    out << torn;
  }
  DisagreeingProblem problem(3);
  bomf::FusionSummary summary;
  bomf::solve(small_search(path), problem, &summary);
  EXPECT_EQ(summary.journal_torn_bytes, torn.size());
  ASSERT_EQ(summary.warnings.size(), 1u);
  EXPECT_MESSAGE(summary.warnings[0],
                 bomf::detail::concat("a torn last line (", torn.size(), " bytes"));
  EXPECT_MESSAGE(summary.brief_report(), "WARNING: journal");
  std::remove(path.c_str());

  const std::string stage1 = temp_file("torn_stage1.jsonl");
  bomf::SearchSpace space;
  space.add_continuous("x", 0.0, 1.0);
  bomf::HyperparameterSearchOptions o;
  o.num_initial = 2;
  o.num_iterations = 0;
  o.journal = stage1;
  auto training = bomf::make_training_problem(space, {{"m", bomf::Direction::maximize}},
                                              [](const bomf::Hyperparameters& h) {
                                                bomf::TrainingTrajectory t;
                                                t.add(1, 0.1, {h.value("x")});
                                                return t;
                                              });
  (void)bomf::solve(o, training);
  {
    std::ofstream out(stage1, std::ios::app);
    out << R"({"kind":"run","ind)";
  }
  bomf::HyperparameterSummary s1;
  (void)bomf::solve(o, training, &s1);
  EXPECT_EQ(s1.journal_torn_bytes, 18u);
  ASSERT_EQ(s1.warnings.size(), 1u);
  EXPECT_MESSAGE(s1.brief_report(), "WARNING: journal");
  std::remove(stage1.c_str());
}

TEST(FusionFingerprint, MakeFusionProblemTakesOneAndAJournalOfOtherDataIsRefused) {
  const std::string path = temp_file("fingerprint.jsonl");
  DisagreeingProblem inner(3);
  const auto evaluate = [&](const VectorXd& d) { return inner.evaluate(d); };
  auto on_train = bomf::make_fusion_problem(3, inner.objectives(), evaluate,
                                            std::string("members=ckpt-a validation=v1"));
  EXPECT_EQ(on_train.fingerprint(), "members=ckpt-a validation=v1");
  bomf::solve(small_search(path), on_train);
  auto on_other = bomf::make_fusion_problem(3, inner.objectives(), evaluate,
                                            std::string("members=ckpt-a validation=v2"));
  EXPECT_MESSAGE(message_of([&] { bomf::solve(small_search(path), on_other); }),
                 "header key 'fingerprint' is \"members=ckpt-a validation=v1\"");
  // With the loss gradient too.
  const auto gradient = [&](const VectorXd& d, VectorXd& g) {
    return inner.loss_and_gradient(d, g);
  };
  auto both = bomf::make_fusion_problem(3, inner.objectives(), evaluate, gradient,
                                        std::string("members=ckpt-a validation=v1"));
  EXPECT_TRUE(both.has_loss_gradient());
  EXPECT_EQ(both.fingerprint(), "members=ckpt-a validation=v1");
  std::remove(path.c_str());
}

}  // namespace
