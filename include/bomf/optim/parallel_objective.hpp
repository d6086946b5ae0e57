// bomf/optim/parallel_objective.hpp — evaluating one objective from several threads: a copy of
// it per worker thread, and the raw-candidate screening split into row blocks.
//
// The acquisition objects keep mutable workspaces (that is what makes an evaluation
// allocation-free), so two threads must never call the same object. With `num_threads` > 1 the
// optimizers therefore copy the objective once per extra worker, on the calling thread, and each
// worker calls only its own copy. An objective whose copies share state that is not safe to use
// concurrently (say, a lambda capturing a non-thread-safe model by reference) must be run with
// num_threads = 1, the default. Values do not depend on the number of threads: each point's value
// and each restart's path are computed exactly as in the serial loop.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/core/parallel.hpp"
#include "bomf/optim/objective.hpp"

namespace bomf::detail {

/// `f` for worker 0 and a copy of `f` for each further worker (copied in the constructor, on
/// the calling thread). Throws bomf::invalid_argument, naming `where`, when more than one worker
/// is asked for and F is not copy-constructible.
template <class F>
class ObjectivePerWorker {
 public:
  ObjectivePerWorker(F& f, int workers, const char* where) : f_(f) {
    if constexpr (std::is_copy_constructible_v<F>) {
      copies_.reserve(static_cast<std::size_t>(std::max(workers - 1, 0)));
      for (int w = 1; w < workers; ++w) {
        copies_.emplace_back(f);
      }
    } else {
      require(workers <= 1, where, "options.num_threads asks for ", workers,
              " threads, but the objective type is not copy-constructible (each thread needs "
              "its own copy); use num_threads = 1");
    }
  }

  /// The objective that `worker` (0 ≤ worker < workers) calls.
  F& operator()(int worker) {
    return worker == 0 ? f_ : copies_[static_cast<std::size_t>(worker - 1)];
  }

 private:
  F& f_;
  std::vector<std::remove_const_t<F>> copies_;
};

/// The screening values of the objective at the rows of `X`, as `screen_values`, with the rows
/// split into blocks screened by the workers of `fs` in parallel (`num_threads` ≤ the workers fs
/// holds); exact only when every block's values are. `calls` is increased by X.rows(). Throws
/// bomf::invalid_argument, naming `where`, when the objective returns the wrong number of values.
template <class F>
ScreeningValues screen_values_parallel(ObjectivePerWorker<F>& fs, const Eigen::MatrixXd& X,
                                       long& calls, int num_threads, const char* where) {
  const int workers = parallel_workers(num_threads, X.rows());
  if (workers <= 1) {
    ScreeningValues screened = screen_values(fs(0), X, calls);
    require(screened.values.size() == X.rows(), where, "the objective's screening returned ",
            screened.values.size(), " values for ", X.rows(), " points");
    return screened;
  }
  // Several blocks per worker so that uneven costs (points on faces are cheaper) balance out.
  const Eigen::Index block = std::max<Eigen::Index>(1, X.rows() / (4 * workers));
  const Eigen::Index num_blocks = (X.rows() + block - 1) / block;
  std::vector<ScreeningValues> parts(static_cast<std::size_t>(num_blocks));
  parallel_for(workers, num_blocks, [&](int worker, Eigen::Index b) {
    const Eigen::Index first = b * block;
    const Eigen::Index rows = std::min(block, X.rows() - first);
    long ignored = 0;
    ScreeningValues part =
        screen_values(fs(worker), Eigen::MatrixXd(X.middleRows(first, rows)), ignored);
    require(part.values.size() == rows, where, "the objective's screening returned ",
            part.values.size(), " values for ", rows, " points");
    parts[static_cast<std::size_t>(b)] = std::move(part);
  });
  calls += static_cast<long>(X.rows());
  ScreeningValues screened;
  screened.values.resize(X.rows());
  for (Eigen::Index b = 0; b < num_blocks; ++b) {
    const ScreeningValues& part = parts[static_cast<std::size_t>(b)];
    screened.values.segment(b * block, part.values.size()) = part.values;
    screened.exact = screened.exact && part.exact;
  }
  return screened;
}

}  // namespace bomf::detail
