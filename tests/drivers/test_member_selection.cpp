// The member policy (paper §4.1, Algorithm 1 lines 13–17, App. A.3): exact step numbers, the rule
// for too few steps, agreement of the two entry points, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bomf/drivers/member_selection.hpp"
#include "support/error_message.hpp"

namespace {

using bomf::MemberSelectionOptions;
using bomf::select_member_steps;
using Steps = std::vector<long long>;

std::string message_of(const std::function<void()>& f) {
  return bomf::test::error_message<std::exception>(f);
}

TEST(MemberSelection, PaperDefaultOnAThousandSteps) {
  // Window [500, 1000] (501 steps), 15 members at ranks round(i·500/14).
  const Steps expected = {500, 536, 571, 607, 643, 679, 714, 750,
                          786, 821, 857, 893, 929, 964, 1000};
  EXPECT_EQ(select_member_steps(1000), expected);
  const bomf::MemberWindow w = bomf::member_window(1000);
  EXPECT_EQ(w.first, 500);
  EXPECT_EQ(w.last, 1000);
}

TEST(MemberSelection, SmallCountsAndOddLengths) {
  MemberSelectionOptions o;
  o.count = 3;
  EXPECT_EQ(select_member_steps(10, o), (Steps{5, 7, 10}));  // ranks 0, 2.5→2 (ties down), 5
  EXPECT_EQ(select_member_steps(11, o), (Steps{6, 8, 11}));  // window [6, 11]: ranks 0, 2.5→2, 5
  o.count = 2;
  EXPECT_EQ(select_member_steps(7, o), (Steps{4, 7}));
  o.count = 4;
  o.start_fraction = 0.0;
  EXPECT_EQ(select_member_steps(9, o), (Steps{1, 4, 6, 9}));  // step 0 is never planned
}

TEST(MemberSelection, FewerEligibleStepsThanRequestedReturnsAllOfThem) {
  EXPECT_EQ(select_member_steps(20), (Steps{10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}));
  EXPECT_EQ(select_member_steps(3), (Steps{2, 3}));
  EXPECT_EQ(select_member_steps(2), (Steps{1, 2}));
  EXPECT_EQ(select_member_steps(29).size(), 15U);  // window [15, 29]: exactly 15 steps
  EXPECT_EQ(select_member_steps(28).size(), 15U);  // window [14, 28]
  EXPECT_EQ(select_member_steps(27).size(), 14U);  // window [14, 27]
}

TEST(MemberSelection, AnchorAtTheBestStepAsInAppendixA3) {
  MemberSelectionOptions o;
  o.end_fraction = 2.0;
  // B* = 300 of a 1000-step run: window [150, 600].
  const Steps steps = select_member_steps(1000, o, 300);
  ASSERT_EQ(steps.size(), 15U);
  EXPECT_EQ(steps.front(), 150);
  EXPECT_EQ(steps.back(), 600);
  // B* = 700: the window is clipped at the end of training, [350, 1000].
  const Steps clipped = select_member_steps(1000, o, 700);
  EXPECT_EQ(clipped.front(), 350);
  EXPECT_EQ(clipped.back(), 1000);
}

TEST(MemberSelection, FractionsAreRoundedWithTolerance) {
  MemberSelectionOptions o;
  o.count = 2;
  o.start_fraction = 0.3;  // 0.3 · 10 = 3.0000000000000004 in doubles: still step 3
  o.end_fraction = 0.7;    // 0.7 · 10 = 7.000000000000001
  EXPECT_EQ(select_member_steps(10, o), (Steps{3, 7}));
  const bomf::MemberWindow w = bomf::member_window(10, o);
  EXPECT_EQ(w.first, 3);
  EXPECT_EQ(w.last, 7);
}

TEST(MemberSelection, AvailableStepsEveryEpoch) {
  Steps every50;
  for (long long s = 0; s <= 1000; s += 50) {
    every50.push_back(s);
  }
  EXPECT_EQ(select_member_steps(every50, 1000),
            (Steps{500, 550, 600, 650, 700, 750, 800, 850, 900, 950, 1000}));
  Steps every10;
  for (long long s = 10; s <= 1000; s += 10) {
    every10.push_back(s);
  }
  const Steps members = select_member_steps(every10, 1000);
  // 51 eligible: ranks round(i·50/14).
  const Steps expected = {500, 540, 570, 610, 640, 680, 710, 750,
                          790, 820, 860, 890, 930, 960, 1000};
  EXPECT_EQ(members, expected);
}

TEST(MemberSelection, BothEntryPointsAgreeAndKeepTheirPromises) {
  std::mt19937_64 rng(5);
  const double starts[] = {0.0, 0.25, 0.5, 0.7};
  const double ends[] = {0.9, 1.0, 1.5};
  int checked = 0;
  for (int trial = 0; trial < 400; ++trial) {
    MemberSelectionOptions o;
    o.count = 2 + static_cast<int>(rng() % 20);
    o.start_fraction = starts[rng() % 4];
    o.end_fraction = ends[rng() % 3];
    const long long total = 2 + static_cast<long long>(rng() % 300);
    const std::optional<long long> anchor =
        rng() % 3 == 0 ? std::optional<long long>(1 + static_cast<long long>(rng() % total))
                       : std::nullopt;
    bomf::MemberWindow w = bomf::member_window(total, o, anchor);
    w.first = std::max(w.first, 1LL);
    const long long m = w.last - w.first + 1;
    if (m < 2) {
      EXPECT_THROW((void)select_member_steps(total, o, anchor), bomf::invalid_argument);
      continue;
    }
    Steps all(static_cast<std::size_t>(total));
    std::iota(all.begin(), all.end(), 1LL);
    const Steps planned = select_member_steps(total, o, anchor);
    EXPECT_EQ(planned, select_member_steps(all, total, o, anchor));
    ASSERT_EQ(static_cast<long long>(planned.size()), std::min<long long>(o.count, m));
    EXPECT_EQ(planned.front(), w.first);
    EXPECT_EQ(planned.back(), w.last);
    long long min_gap = total;
    long long max_gap = 0;
    for (std::size_t i = 1; i < planned.size(); ++i) {
      ASSERT_GT(planned[i], planned[i - 1]);
      min_gap = std::min(min_gap, planned[i] - planned[i - 1]);
      max_gap = std::max(max_gap, planned[i] - planned[i - 1]);
    }
    EXPECT_LE(max_gap - min_gap, 1) << "evenly spaced: gaps differ by at most one step";
    ++checked;
  }
  EXPECT_GT(checked, 300);
}

TEST(MemberSelection, Deterministic) {
  MemberSelectionOptions o;
  o.count = 7;
  EXPECT_EQ(select_member_steps(12345, o), select_member_steps(12345, o));
}

TEST(MemberSelection, BadInputIsNamed) {
  MemberSelectionOptions o;
  o.count = 1;
  EXPECT_NE(message_of([&] { (void)select_member_steps(100, o); }).find("count is 1"),
            std::string::npos);
  o = {};
  o.start_fraction = -0.1;
  EXPECT_NE(o.validate().find("start_fraction is -0.1"), std::string::npos);
  o = {};
  o.end_fraction = 0.5;
  EXPECT_NE(o.validate().find("end_fraction is 0.5"), std::string::npos);
  o = {};
  o.end_fraction = std::nan("");
  EXPECT_FALSE(o.validate().empty());
  EXPECT_TRUE(MemberSelectionOptions{}.validate().empty());

  EXPECT_NE(message_of([] { (void)select_member_steps(0); }).find("'total_steps' is 0"),
            std::string::npos);
  EXPECT_NE(message_of([] { (void)select_member_steps(1); }).find("only 1 step(s)"),
            std::string::npos);
  EXPECT_NE(message_of([] { (void)select_member_steps(100, {}, -3); }).find("'anchor_step' is -3"),
            std::string::npos);
  // An anchor of 0 (B* = 0: the best point was the initial model) is a real anchor, whose window
  // [0, 0] holds no member: an error naming it, not a silent fallback to the total steps.
  EXPECT_NE(message_of([] { (void)select_member_steps(100, {}, 0); })
                .find("only 0 step(s) lie in the member window [1, 0] of a run of 100 steps "
                      "(anchor step 0)"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              (void)select_member_steps(Steps{0, 50, 100}, 100, {}, 0);
            }).find("(anchor step 0)"),
            std::string::npos);
  EXPECT_EQ(select_member_steps(100, {}, std::nullopt), select_member_steps(100, {}, 100));
  EXPECT_NE(message_of([] {
              (void)select_member_steps(Steps{10, 5}, 100);
            }).find("expected strictly increasing"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              (void)select_member_steps(Steps{10, 500}, 100);
            }).find("available_steps[1] is 500"),
            std::string::npos);
  EXPECT_NE(message_of([] {
              (void)select_member_steps(Steps{10, 20, 100}, 100);
            }).find("only 1 of the 3 available steps"),
            std::string::npos);
}

}  // namespace
