// bomf::mpi's message layer without mpirun: every message round-trips bit for bit (NaN and
// infinities included), a truncated or overlong message is a protocol_error that says what and
// where, another protocol version is refused, and the entry points refuse to run without MPI.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "bomf/mpi/mpi.hpp"
#include "drivers/drivers_test_problems.hpp"

namespace {

using bomf::mpi::protocol_error;
using bomf::mpi::detail::Bytes;
using bomf::mpi::detail::Reader;
using bomf::mpi::detail::Writer;
using bomf::test::message_of;

TEST(MpiMessages, NumbersStringsAndVectorsRoundTripExactly) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Eigen::VectorXd v(4);
  v << 0.1, -0.0, std::numeric_limits<double>::infinity(), 5e-324;
  Writer w;
  w.put<std::uint64_t>(42).put<double>(nan).put_string("δ ∈ Δ").put_vector(v).put_string("");
  w.put_vector(Eigen::VectorXd());
  const Bytes bytes = w.take();
  Reader r(bytes, "a test message");
  EXPECT_EQ(r.get<std::uint64_t>(), 42U);
  EXPECT_TRUE(std::isnan(r.get<double>()));
  EXPECT_EQ(r.get_string(), "δ ∈ Δ");
  const Eigen::VectorXd back = r.get_vector();
  ASSERT_EQ(back.size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(std::signbit(back(i)), std::signbit(v(i)));
    EXPECT_EQ(back(i), v(i));
  }
  EXPECT_EQ(r.get_string(), "");
  EXPECT_EQ(r.get_vector().size(), 0);
  EXPECT_NO_THROW(r.finish());
}

TEST(MpiMessages, TruncatedAndOverlongMessagesSayWhatAndWhere) {
  Writer w;
  w.put_vector(Eigen::VectorXd::Ones(3));
  Bytes bytes = w.take();
  bytes.resize(bytes.size() - 1);
  Reader short_reader(bytes, "the result from rank 3");
  const std::string m = message_of<protocol_error>([&] { (void)short_reader.get_vector(); });
  EXPECT_MESSAGE(m, "the result from rank 3 ends early: 3 more values expected at byte 8");
  EXPECT_MESSAGE(m, "a different bomf build on that rank?");

  Writer huge;  // a length prefix far beyond the message
  huge.put<std::uint64_t>(std::numeric_limits<std::uint64_t>::max());
  const Bytes lying = huge.take();
  Reader liar(lying, "the hello message of rank 1");
  EXPECT_MESSAGE(message_of<protocol_error>([&] { (void)liar.get_string(); }),
                 "the hello message of rank 1 ends early");

  Writer extra;
  extra.put<double>(1.0).put<double>(2.0);
  const Bytes two = extra.take();
  Reader one(two, "the evaluation result from rank 2");
  (void)one.get<double>();
  EXPECT_MESSAGE(message_of<protocol_error>([&] { one.finish(); }),
                 "the evaluation result from rank 2 has 8 bytes more than expected");
}

/// `d` written and read back.
template <class Description>
Description round_trip(const Description& d) {
  Writer w;
  d.write(w);
  const Bytes bytes = w.take();
  Reader r(bytes, "a description");
  Description back = Description::read(r);
  r.finish();
  return back;
}

TEST(MpiMessages, DescriptionsRoundTrip) {
  bomf::test::DisagreeingProblem problem(5);
  const auto fusion = bomf::mpi::detail::FusionDescription::of(problem);
  const auto back = round_trip(fusion);
  EXPECT_EQ(back.to_string(), fusion.to_string());
  EXPECT_EQ(back.to_string(),
            "N = 5, loss 'loss', metrics accuracy (maximize), fingerprint 'disagreeing-5', loss "
            "gradient yes");

  bomf::SearchSpace space;
  space.add_continuous("lr", 1e-5, 1e-2, bomf::Scale::log)
      .add_integer("batch", 8, 64)
      .add_categorical("scheduler", {"cosine", "linear"})
      .add_continuous("dropout", 0.0, 0.5);
  auto training_problem = bomf::make_training_problem(
      space, {{"f1", bomf::Direction::maximize}, {"error", bomf::Direction::minimize}},
      [](const bomf::Hyperparameters&) { return bomf::TrainingTrajectory(); }, "mlp-v1");
  const auto training = bomf::mpi::detail::TrainingDescription::of(training_problem);
  const auto tback = round_trip(training);
  EXPECT_TRUE(bomf::detail::same_search_space(tback.space, space));
  EXPECT_EQ(tback.to_string(), training.to_string());
  EXPECT_EQ(tback.to_string(),
            "space lr [1.0000000000000001e-05, 0.01] log, batch integer [8, 64], scheduler "
            "{cosine, linear}, dropout [0, 0.5]; metrics f1 (maximize), error (minimize); "
            "fingerprint 'mlp-v1'");
}

TEST(MpiMessages, TrajectoriesAndTrainingTasksRoundTrip) {
  bomf::TrainingTrajectory t;
  t.total_steps = 300;
  t.add(100, 0.5, {0.7, std::numeric_limits<double>::quiet_NaN()});
  t.add(300, std::numeric_limits<double>::infinity(), {0.8, 0.1});
  t.checkpoint_steps = {150, 300};
  bomf::mpi::detail::TrainingTask task;
  task.run_index = bomf::TrainingContext::final_run;
  task.collect_members = true;
  task.members.count = 7;
  task.members.end_fraction = 2.0;
  task.anchor_step = 123;
  Writer w;
  bomf::mpi::detail::put_trajectory(w, t);
  task.write(w);
  const Bytes bytes = w.take();
  Reader r(bytes, "training");
  const bomf::TrainingTrajectory back = bomf::mpi::detail::get_trajectory(r);
  const auto task_back = bomf::mpi::detail::TrainingTask::read(r);
  r.finish();
  EXPECT_EQ(back.total_steps, 300);
  ASSERT_EQ(back.size(), 2U);
  EXPECT_EQ(back.steps(), t.steps());
  EXPECT_TRUE(std::isnan(back.points[0].metrics(1)));
  EXPECT_TRUE(std::isinf(back.points[1].loss));
  EXPECT_EQ(back.checkpoint_steps, t.checkpoint_steps);
  EXPECT_EQ(task_back.run_index, bomf::TrainingContext::final_run);
  EXPECT_TRUE(task_back.collect_members);
  EXPECT_EQ(task_back.members.count, 7);
  EXPECT_EQ(task_back.members.end_fraction, 2.0);
  EXPECT_EQ(task_back.anchor_step, 123);
}

TEST(MpiMessages, AnotherProtocolOrVersionIsRefused) {
  bomf::mpi::detail::Hello hello;
  hello.ok = false;
  hello.refusal = "could not build its problem: no GPU";
  const Bytes bytes = hello.encode();
  const auto back = bomf::mpi::detail::Hello::decode(bytes, 3);
  EXPECT_FALSE(back.ok);
  EXPECT_EQ(back.refusal, hello.refusal);

  Bytes newer = bytes;
  newer[8] = 2;  // the version field follows the 8-byte magic
  EXPECT_MESSAGE(message_of<protocol_error>([&] { bomf::mpi::detail::Hello::decode(newer, 3); }),
                 "rank 3 speaks bomf::mpi protocol version 2, expected version 1");
  Bytes other = bytes;
  other[0] ^= 0xff;
  EXPECT_MESSAGE(message_of<protocol_error>([&] { bomf::mpi::detail::Hello::decode(other, 4); }),
                 "rank 4 speaks another protocol");
}

TEST(MpiMessages, PollingOptionsAreChecked) {
  bomf::mpi::Polling p;
  EXPECT_EQ(p.validate(), "");
  p.min_sleep = std::chrono::microseconds(0);
  EXPECT_EQ(p.validate(), "min_sleep is 0 µs, expected >= 1 µs");
  p.min_sleep = std::chrono::microseconds(100);
  p.max_sleep = std::chrono::microseconds(50);
  EXPECT_EQ(p.validate(), "max_sleep is 50 µs, expected min_sleep (100 µs) … 1000000 µs");
}

TEST(MpiMessages, NothingRunsWithoutMpi) {
  // This test program never initializes MPI.
  EXPECT_MESSAGE(message_of([] { bomf::mpi::FusionPool pool(MPI_COMM_WORLD); }),
                 "bomf::mpi::FusionPool: MPI is not initialized: create a "
                 "bomf::mpi::Environment (or call MPI_Init) first");
  bomf::test::DisagreeingProblem problem(3);
  EXPECT_MESSAGE(message_of([&] { bomf::mpi::serve(problem); }),
                 "bomf::mpi::serve: MPI is not initialized");
  EXPECT_MESSAGE(message_of([&] {
                   bomf::mpi::solve(bomf::FusionSearchOptions(), MPI_COMM_WORLD, [] {
                     return std::make_unique<bomf::test::DisagreeingProblem>(3);
                   });
                 }),
                 "bomf::mpi::solve: MPI is not initialized");
  EXPECT_MESSAGE(message_of([] { (void)bomf::mpi::local_rank(); }),
                 "bomf::mpi::local_rank: MPI is not initialized");
}

}  // namespace
