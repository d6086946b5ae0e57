// bomf/drivers/search_trace.hpp — the record-keeping vocabulary both search stages share: where
// a proposal came from, why a search ended, the fields of every trace row and every summary.
//
// Stage 1 (hyperparameter_search.hpp) traces training runs, stage 2 (fusion_search.hpp) fused
// models; both call one completed, journaled expensive evaluation an *evaluation* (in stage 1, a
// training run), and report it in a row derived from `SearchIteration`, summed up in a summary
// derived from `SearchSummary`, with the same names for the same things.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf {

/// Where a point a search evaluated came from.
enum class ProposalKind {
  member,       ///< a fusion member (simplex vertex), evaluated for the normalization (stage 2)
  initial,      ///< a point of the quasi-random (scrambled Sobol) initial design
  acquisition,  ///< a maximizer of the acquisition function (LogEI, log-qNEHVI)
  fallback,     ///< quasi-random, after the design: too few successful evaluations for a GP,
                ///< or the acquisition failed numerically
  external,     ///< observed by the caller without a matching suggestion (ask/tell)
};

/// "member", "initial", "acquisition", "fallback" or "external".
inline const char* to_string(ProposalKind kind) {
  switch (kind) {
    case ProposalKind::member:
      return "member";
    case ProposalKind::initial:
      return "initial";
    case ProposalKind::acquisition:
      return "acquisition";
    case ProposalKind::fallback:
      return "fallback";
    case ProposalKind::external:
      break;
  }
  return "external";
}

/// The kind named `name` (as to_string writes it). Throws bomf::invalid_argument (prefixed by
/// `where`) for any other text.
inline ProposalKind proposal_kind_from_string(const std::string& name, const char* where) {
  for (const ProposalKind k :
       {ProposalKind::member, ProposalKind::initial, ProposalKind::acquisition,
        ProposalKind::fallback, ProposalKind::external}) {
    if (name == to_string(k))
      return k;
  }
  detail::throw_invalid_argument(where, "proposal kind '", name,
                                 "' is not known, expected member, initial, acquisition, "
                                 "fallback or external");
}

/// Why a search stopped (or that it has not).
enum class SearchTermination {
  in_progress,          ///< evaluations remain (ask/tell, or a summary taken mid-run)
  budget_reached,       ///< every planned evaluation was made
  stopped_by_callback,  ///< the callback returned false
  space_exhausted,      ///< every setting of a fully discrete search space was evaluated
  too_many_failures,    ///< more than max_failures evaluations failed (solve threw)
};

/// "in progress", "budget reached", … (for reports).
inline const char* to_string(SearchTermination t) {
  switch (t) {
    case SearchTermination::in_progress:
      return "in progress";
    case SearchTermination::budget_reached:
      return "budget reached";
    case SearchTermination::stopped_by_callback:
      return "stopped by the callback";
    case SearchTermination::space_exhausted:
      return "search space exhausted";
    case SearchTermination::too_many_failures:
      return "too many failed evaluations";
  }
  return "unknown";
}

/// The fields of one trace row, in both stages: one completed evaluation, in the order of the
/// journal.
struct SearchIteration {
  int index = 0;                                  ///< position in the trace (0-based)
  ProposalKind proposal = ProposalKind::initial;  ///< where the point came from
  bool ok = false;                                ///< false: failed (kept out of the surrogate)
  std::string error;                              ///< the failure's reason ("" when ok)
  bool replayed = false;     ///< read back from the journal instead of evaluated in this process
  double fit_seconds = 0.0;  ///< GP fitting spent proposing this point
  double acquisition_seconds = 0.0;  ///< acquisition optimization spent proposing it
  double evaluation_seconds = 0.0;   ///< the evaluation itself (training in stage 1; 0 reused)
};

/// The fields of a summary, in both stages.
struct SearchSummary {
  SearchTermination termination = SearchTermination::in_progress;
  std::string message;                 ///< why it ended, in words ("" while in progress)
  std::vector<std::string> warnings;   ///< what the user should know (blind search, torn line, …)
  int num_evaluations = 0;             ///< rows of the trace
  int num_failures = 0;                ///< failed ones
  int num_replayed = 0;                ///< read back from the journal
  std::string journal;                 ///< the journal file ("" = in memory)
  std::size_t journal_torn_bytes = 0;  ///< bytes of a torn last line dropped on opening it
  double total_seconds = 0.0;  ///< wall time of the solve() call (replayed work not included)
  double fit_seconds = 0.0;    ///< Σ over the trace (replayed rows included)
  double acquisition_seconds = 0.0;
  double evaluation_seconds = 0.0;

  /// Adds one row's counts and times.
  void count(const SearchIteration& row) {
    ++num_evaluations;
    num_failures += row.ok ? 0 : 1;
    num_replayed += row.replayed ? 1 : 0;
    fit_seconds += row.fit_seconds;
    acquisition_seconds += row.acquisition_seconds;
    evaluation_seconds += row.evaluation_seconds;
  }

  /// The torn-line warning for a journal that dropped `torn_bytes` bytes when opened ("" when
  /// none were dropped).
  static std::string torn_line_warning(const std::string& journal, std::size_t torn_bytes) {
    if (torn_bytes == 0)
      return {};
    return detail::concat("journal '", journal, "': a torn last line (", torn_bytes,
                          " bytes, an evaluation cut short by a crash) was dropped when the "
                          "journal was opened; that evaluation is made again");
  }
};

}  // namespace bomf
