// bomf/drivers/fusion_ledger.hpp — every completed evaluation of one fusion problem: an optional
// journal file plus an index by δ, shared by the fusion search and the baselines.
//
// Journal format (JSON lines, journal.hpp, format version 2): a header
//   {"format": "bomf.fusion_journal", "version": 2, "num_members", "loss_name",
//    "metrics": [{"name", "direction"}], "fingerprint"}
// then one "evaluation" record per completed evaluation (fusion_record.hpp), plus records of
// other kinds written by the drivers (e.g. "fusion_search_settings"); every line carries a
// sequence number and a CRC-32C checksum, so damage is refused with its line number.
#pragma once

#include <Eigen/Core>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/points.hpp"
#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/fusion_record.hpp"
#include "bomf/drivers/journal.hpp"

namespace bomf {

/// All completed evaluations of one fusion problem (see the file comment). Constructed with a
/// journal path, it replays the file (refusing one from a different problem: other N, objective
/// names or directions, or fingerprint; or a damaged one) and appends every new record durably.
/// Movable, not copyable.
class FusionLedger {
 public:
  /// A ledger for N ≥ 2 members and `objectives`; `fingerprint` identifies the problem (see
  /// FusionProblem::fingerprint); `journal_path` "" keeps records in memory only.
  /// Throws bomf::invalid_argument for bad arguments or a journal from a different problem (or of
  /// an older format version), bomf::io_error when the journal cannot be used or is damaged.
  FusionLedger(int num_members, FusionObjectives objectives, std::string fingerprint = {},
               const std::string& journal_path = {})
      : num_members_(num_members),
        objectives_(std::move(objectives)),
        fingerprint_(std::move(fingerprint)) {
    constexpr const char* where = "bomf::FusionLedger";
    detail::require(num_members >= 2, where, "argument 'num_members' is ", num_members,
                    ", expected at least 2 members to fuse");
    objectives_.validate(where);
    if (!journal_path.empty()) {
      journal_ = Journal(journal_path, header());
      const auto& lines = journal_.records();
      const std::string reader = detail::concat(where, ": journal '", journal_path, "'");
      for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].value("kind", std::string()) != "evaluation")
          continue;
        // Line i + 2: the header is line 1.
        index(detail::record_from_json(lines[i], num_members_, objectives_.num_metrics(), reader,
                                       i + 2));
      }
    }
  }

  /// A ledger for `problem` (its N, objectives and fingerprint).
  explicit FusionLedger(const FusionProblem& problem, const std::string& journal_path = {})
      : FusionLedger(problem.num_members(), problem.objectives(), problem.fingerprint(),
                     journal_path) {}

  /// Number of members N.
  [[nodiscard]] int num_members() const { return num_members_; }
  /// The objectives.
  [[nodiscard]] const FusionObjectives& objectives() const { return objectives_; }
  /// The problem fingerprint.
  [[nodiscard]] const std::string& fingerprint() const { return fingerprint_; }
  /// The journal file ("" when in memory).
  [[nodiscard]] const std::string& path() const { return journal_.path(); }
  /// The underlying journal (every line, including records of other kinds).
  [[nodiscard]] Journal& journal() { return journal_; }
  [[nodiscard]] const Journal& journal() const { return journal_; }
  /// Evaluation records in order (replayed ones first).
  [[nodiscard]] const std::vector<FusionRecord>& records() const { return records_; }

  /// The record of exactly these coefficients — the first successful one, else the first
  /// failure — or nullptr. \b Cost: O(N log n).
  [[nodiscard]] const FusionRecord* find(const Eigen::Ref<const Eigen::VectorXd>& delta) const {
    const auto it = by_delta_.find(detail::point_key(delta));
    return it == by_delta_.end() ? nullptr : &records_[it->second];
  }

  /// Canonicalizes `record` (detail::canonicalize_record) and appends it, journaled durably
  /// first when a file is used. Throws bomf::invalid_argument for a δ of the wrong length
  /// (nothing appended) or, after appending it as failed, for an ok record with the wrong
  /// number of metric values; bomf::io_error when writing fails (nothing appended).
  const FusionRecord& append(FusionRecord record) {
    constexpr const char* where = "bomf::FusionLedger::append";
    detail::require_shape(record.delta, num_members_, 1, where, "record.delta");
    const std::string violation = detail::canonicalize_record(record, objectives_);
    journal_.append(detail::record_to_json(record));
    const FusionRecord& stored = index(std::move(record));
    if (!violation.empty())
      detail::throw_metric_count_violation(where, violation);
    return stored;
  }

  /// The journal header this ledger writes and expects.
  [[nodiscard]] nlohmann::json header() const {
    nlohmann::json metrics = nlohmann::json::array();
    for (const MetricSpec& s : objectives_.metrics) {
      metrics.push_back({{"name", s.name}, {"direction", to_string(s.direction)}});
    }
    return {{"format", "bomf.fusion_journal"}, {"version", Journal::format_version},
            {"num_members", num_members_},     {"loss_name", objectives_.loss_name},
            {"metrics", std::move(metrics)},   {"fingerprint", fingerprint_}};
  }

 private:
  const FusionRecord& index(FusionRecord record) {
    records_.push_back(std::move(record));
    const auto [it, inserted] =
        by_delta_.emplace(detail::point_key(records_.back().delta), records_.size() - 1);
    if (!inserted && !records_[it->second].ok && records_.back().ok)
      it->second = records_.size() - 1;
    return records_.back();
  }

  int num_members_;
  FusionObjectives objectives_;
  std::string fingerprint_;
  Journal journal_;
  std::vector<FusionRecord> records_;
  std::map<std::vector<double>, std::size_t> by_delta_;
};

}  // namespace bomf
