// bomf/acquisition/detail/q_log_nehvi_cells.hpp — the per-sample box decomposition of the
// non-dominated region used by qLogNEHVI, reproducing BoTorch 0.11.3's
// `FastNondominatedPartitioning` cells (maximization):
//   * m = 2: the direct staircase partition (`compute_non_dominated_hypercell_bounds_2d`),
//     one cell per Pareto point plus one, zero-width cells dropped;
//   * m ≥ 3: the two-step method of Yang et al. (2019) built on Alg. 1 of Lacour, Klamroth &
//     Fonseca (2017), "A box decomposition algorithm to compute the hypervolume indicator":
//     local upper bounds of the front (minimization of −y), then those bounds taken as a new
//     front whose dominated region is partitioned with the same incremental algorithm.
// The Pareto front is BoTorch's: rows not weakly dominated, duplicates removed (first kept),
// strictly better than the reference point in every objective, in input order.
//
// bomf/multi_objective/ owns the public box decompositions; this is a private copy kept so
// the acquisition does not depend on their layout (the lead may dedupe).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

namespace bomf::detail {

/// Indices of BoTorch's Pareto front of the rows of `Y` (n × m, maximization) that are
/// strictly better than `ref` in every objective; duplicates keep their first occurrence.
/// Cost O(n² m).
inline std::vector<Eigen::Index> qnehvi_pareto_indices(const Eigen::MatrixXd& Y,
                                                       const Eigen::VectorXd& ref) {
  const Eigen::Index n = Y.rows();
  const Eigen::Index m = Y.cols();
  std::vector<Eigen::Index> out;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (!(Y.row(i).transpose().array() > ref.array()).all()) {
      continue;
    }
    bool keep = true;
    for (Eigen::Index k = 0; k < n && keep; ++k) {
      if (k == i) {
        continue;
      }
      bool geq = true;
      bool gt = false;
      bool equal = true;
      for (Eigen::Index c = 0; c < m; ++c) {
        geq = geq && Y(k, c) >= Y(i, c);
        gt = gt || Y(k, c) > Y(i, c);
        equal = equal && Y(k, c) == Y(i, c);
      }
      if ((geq && gt) || (equal && k < i)) {
        keep = false;
      }
    }
    if (keep) {
      out.push_back(i);
    }
  }
  return out;
}

/// Local upper bounds U (n × m, row-major) and defining points Z (n × m × m: Z[u][j] is the
/// defining point z^j(u)) of Lacour et al. (2017), minimization.
struct QnehviLocalUpperBounds {
  int m = 0;
  std::vector<double> U;
  std::vector<double> Z;
  [[nodiscard]] std::size_t size() const { return U.size() / static_cast<std::size_t>(m); }
};

/// Alg. 1 of Lacour et al. (2017): inserts point `z` (length m) into the local upper bounds.
inline void qnehvi_lub_insert(QnehviLocalUpperBounds& s, const double* z) {
  const int m = s.m;
  const std::size_t n = s.size();
  const auto mm = static_cast<std::size_t>(m) * static_cast<std::size_t>(m);
  std::vector<std::size_t> in_a;
  std::vector<std::size_t> keep;
  for (std::size_t u = 0; u < n; ++u) {
    bool dominated = true;
    for (int k = 0; k < m; ++k) {
      dominated = dominated && s.U[u * m + k] > z[k];
    }
    (dominated ? in_a : keep).push_back(u);
  }
  if (in_a.empty()) {
    return;
  }
  QnehviLocalUpperBounds next;
  next.m = m;
  for (std::size_t u : keep) {
    next.U.insert(next.U.end(), s.U.begin() + u * m, s.U.begin() + (u + 1) * m);
    next.Z.insert(next.Z.end(), s.Z.begin() + u * mm, s.Z.begin() + (u + 1) * mm);
  }
  for (int j = 0; j < m; ++j) {
    for (std::size_t u : in_a) {
      double zmax = -std::numeric_limits<double>::infinity();
      for (int k = 0; k < m; ++k) {
        if (k != j) {
          zmax = std::max(zmax, s.Z[u * mm + k * m + j]);
        }
      }
      if (!(z[j] >= zmax)) {
        continue;
      }
      const std::size_t base = next.U.size();
      next.U.insert(next.U.end(), s.U.begin() + u * m, s.U.begin() + (u + 1) * m);
      next.U[base + j] = z[j];
      const std::size_t zbase = next.Z.size();
      next.Z.insert(next.Z.end(), s.Z.begin() + u * mm, s.Z.begin() + (u + 1) * mm);
      for (int k = 0; k < m; ++k) {
        next.Z[zbase + j * m + k] = z[k];
      }
    }
  }
  s = std::move(next);
}

/// Appends the cells of BoTorch's FastNondominatedPartitioning of the region not dominated by
/// the rows `front` of `Y` (indices from qnehvi_pareto_indices) w.r.t. `ref` to `lower` and
/// `upper` (each cell m consecutive entries; uppers may be +∞). Cells of zero volume are
/// dropped (they contribute exactly 0 to every quantity qLogNEHVI computes).
inline void qnehvi_append_cells(const Eigen::MatrixXd& Y, const std::vector<Eigen::Index>& front,
                                const Eigen::VectorXd& ref, std::vector<double>& lower,
                                std::vector<double>& upper) {
  const int m = static_cast<int>(Y.cols());
  constexpr double inf = std::numeric_limits<double>::infinity();
  if (front.empty()) {
    for (int k = 0; k < m; ++k) {
      lower.push_back(ref(k));
      upper.push_back(inf);
    }
    return;
  }
  if (m == 2) {
    std::vector<Eigen::Index> order(front);
    std::stable_sort(order.begin(), order.end(),
                     [&](Eigen::Index a, Eigen::Index b) { return Y(a, 0) < Y(b, 0); });
    const std::size_t p = order.size();
    for (std::size_t i = 0; i <= p; ++i) {
      const double lx = i == 0 ? ref(0) : Y(order[i - 1], 0);
      const double ly = i == p ? ref(1) : Y(order[i], 1);
      const double ux = i == p ? inf : Y(order[i], 0);
      if (ux > lx) {
        lower.push_back(lx);
        lower.push_back(ly);
        upper.push_back(ux);
        upper.push_back(inf);
      }
    }
    return;
  }
  const auto mm = static_cast<std::size_t>(m) * static_cast<std::size_t>(m);
  // Step 1: local upper bounds of the front, minimizing −y, with reference −ref.
  QnehviLocalUpperBounds first;
  first.m = m;
  first.U.assign(static_cast<std::size_t>(m), 0.0);
  first.Z.assign(mm, -inf);
  for (int j = 0; j < m; ++j) {
    first.U[j] = -ref(j);
    first.Z[j * m + j] = -ref(j);
  }
  std::vector<double> z(static_cast<std::size_t>(m));
  for (Eigen::Index i : front) {
    for (int k = 0; k < m; ++k) {
      z[k] = -Y(i, k);
    }
    qnehvi_lub_insert(first, z.data());
  }
  // Step 2: the negated bounds as a new front (minimization, reference +∞, ideal point ref).
  QnehviLocalUpperBounds second;
  second.m = m;
  second.U.assign(static_cast<std::size_t>(m), inf);
  second.Z.assign(mm, 0.0);
  for (int j = 0; j < m; ++j) {
    for (int k = 0; k < m; ++k) {
      second.Z[j * m + k] = j == k ? inf : ref(k);
    }
  }
  for (std::size_t u = 0; u < first.size(); ++u) {
    for (int k = 0; k < m; ++k) {
      z[k] = -first.U[u * m + k];
    }
    qnehvi_lub_insert(second, z.data());
  }
  // Eq. 2 of Lacour et al. (2017) on the second problem's bounds.
  std::vector<double> lo(static_cast<std::size_t>(m));
  std::vector<double> hi(static_cast<std::size_t>(m));
  for (std::size_t u = 0; u < second.size(); ++u) {
    const double* Zu = second.Z.data() + u * mm;
    lo[0] = Zu[0];
    hi[0] = inf;
    bool empty = !(hi[0] > lo[0]);
    for (int j = 1; j < m; ++j) {
      double mx = -inf;
      for (int k = 0; k < j; ++k) {
        mx = std::max(mx, Zu[k * m + j]);
      }
      lo[j] = mx;
      hi[j] = second.U[u * m + j];
      empty = empty || !(hi[j] > lo[j]);
    }
    if (!empty) {
      lower.insert(lower.end(), lo.begin(), lo.end());
      upper.insert(upper.end(), hi.begin(), hi.end());
    }
  }
}

/// The cells of every MC sample's box decomposition, flattened: cells offsets[s] ..
/// offsets[s+1]−1 belong to sample s. Column c of `lower` is cell c's lower corner (m);
/// `log_length` holds log(min(upper, 1e10) − lower), BoTorch's clamp of infinite uppers.
struct QnehviCellSet {
  std::vector<Eigen::Index> offsets;
  Eigen::MatrixXd lower;
  Eigen::MatrixXd upper;
  Eigen::MatrixXd log_length;
  Eigen::Index max_cells = 0;
};

/// Builds the cell set from the baseline samples: `samples[k]` is the S × n matrix of
/// objective k's sampled values at the n baseline points. Cost O(S · (n² m + cells)).
inline QnehviCellSet qnehvi_build_cells(const std::vector<Eigen::MatrixXd>& samples,
                                        const Eigen::VectorXd& ref) {
  const auto m = static_cast<Eigen::Index>(samples.size());
  const Eigen::Index S = samples.front().rows();
  const Eigen::Index n = samples.front().cols();
  std::vector<double> lower;
  std::vector<double> upper;
  QnehviCellSet set;
  set.offsets.push_back(0);
  Eigen::MatrixXd Y(n, m);
  for (Eigen::Index s = 0; s < S; ++s) {
    for (Eigen::Index k = 0; k < m; ++k) {
      Y.col(k) = samples[static_cast<std::size_t>(k)].row(s).transpose();
    }
    qnehvi_append_cells(Y, qnehvi_pareto_indices(Y, ref), ref, lower, upper);
    set.offsets.push_back(static_cast<Eigen::Index>(lower.size()) / m);
    set.max_cells = std::max(set.max_cells, set.offsets[s + 1] - set.offsets[s]);
  }
  const Eigen::Index C = set.offsets.back();
  set.lower = Eigen::Map<const Eigen::MatrixXd>(lower.data(), m, C);
  set.upper = Eigen::Map<const Eigen::MatrixXd>(upper.data(), m, C);
  set.log_length = (set.upper.array().min(1e10) - set.lower.array()).log();
  return set;
}

}  // namespace bomf::detail
