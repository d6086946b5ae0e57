// bomf/multi_objective/pareto.hpp — Pareto dominance, non-dominated filtering and sorting.
//
// Maximization convention (as BoTorch): a point `a` dominates `b` when a_j ≥ b_j for every
// objective j and a_j > b_j for at least one. Point sets are the rows of an `n × m` matrix.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"

namespace bomf {

namespace detail {

/// Throws unless every entry of `Y` is finite.
inline void require_point_set(const Eigen::Ref<const Eigen::MatrixXd>& Y, const char* where) {
  detail::require_finite(Y, where, "Y");
}

/// Throws unless `ref_point` is non-empty and finite, `Y` is finite and has one column per
/// entry of `ref_point`. An empty `Y` (0 rows) is accepted with any column count.
inline void require_point_set(const Eigen::Ref<const Eigen::MatrixXd>& Y,
                              const Eigen::Ref<const Eigen::VectorXd>& ref_point,
                              const char* where) {
  require(ref_point.size() >= 1, where, "argument 'ref_point' is empty, expected one entry per ",
          "objective");
  detail::require_finite(ref_point, where, "ref_point");
  require(Y.rows() == 0 || Y.cols() == ref_point.size(), where, "argument 'ref_point' has length ",
          ref_point.size(), ", expected ", Y.cols(),
          " (one entry per objective, the columns of Y)");
  detail::require_finite(Y, where, "Y");
}

/// The flat index i·stride + j of a row-major buffer, computed in std::size_t.
constexpr std::size_t flat(int i, int stride, int j) {
  return static_cast<std::size_t>(i) * static_cast<std::size_t>(stride) +
         static_cast<std::size_t>(j);
}

/// True when row `a` of a row-major buffer weakly dominates row `b` (a_j ≥ b_j for all j).
inline bool weakly_dominates(const double* a, const double* b, int m) {
  for (int j = 0; j < m; ++j) {
    if (a[j] < b[j]) {
      return false;
    }
  }
  return true;
}

/// Strict order of points `a`, `b` (row-major, m coordinates, indices ia, ib): decreasing
/// lexicographic order, ties by increasing index. A point can only be dominated by one before it.
inline bool lexicographically_before(const double* points, int m, int ia, int ib) {
  const double* pa = points + static_cast<std::ptrdiff_t>(ia) * m;
  const double* pb = points + static_cast<std::ptrdiff_t>(ib) * m;
  for (int j = 0; j < m; ++j) {
    if (pa[j] != pb[j]) {
      return pa[j] > pb[j];
    }
  }
  return ia < ib;
}

/// Sorts the indices in `order` by lexicographically_before with insertion sort: O(n + I) for I
/// inversions, so re-sorting the order of similar point sets (the MC samples of one posterior)
/// is close to linear. The result is the same permutation std::sort gives (the order is strict).
inline void insertion_sort_lexicographic(const double* points, int m, std::vector<int>& order) {
  for (std::size_t i = 1; i < order.size(); ++i) {
    const int v = order[i];
    std::size_t j = i;
    while (j > 0 && lexicographically_before(points, m, v, order[j - 1])) {
      order[j] = order[j - 1];
      --j;
    }
    order[j] = v;
  }
}

/// The sweep of non_dominated_mask_flat over points already in `order` (lexicographically
/// decreasing): marks in `mask` (pre-sized n, zeroed) the points that no earlier point dominates;
/// with `deduplicate`, equal points count as dominating. Points with `skip[i]` (if non-null) are
/// neither marked nor compared with. `front` is scratch. O(n·F·m) for a front of F points.
inline void non_dominated_sweep(const double* points, int m, bool deduplicate,
                                const std::vector<int>& order, const char* skip,
                                std::vector<char>& mask, std::vector<int>& front) {
  front.clear();
  for (const int i : order) {
    if (skip != nullptr && skip[i] != 0) {
      continue;
    }
    const double* p = points + static_cast<std::ptrdiff_t>(i) * m;
    bool keep = true;
    for (const int f : front) {
      const double* q = points + static_cast<std::ptrdiff_t>(f) * m;
      if (weakly_dominates(q, p, m)) {
        // q ≥ p everywhere: q dominates p unless they are equal (a duplicate).
        const bool equal = std::equal(p, p + m, q);
        if (!equal || deduplicate) {
          keep = false;
          break;
        }
      }
    }
    if (keep) {
      front.push_back(i);
      mask[static_cast<std::size_t>(i)] = 1;
    }
  }
}

/// Non-dominated mask of `n` points stored row-major in `points` (`n × m`), maximization.
/// With `deduplicate`, only the first occurrence (lowest index) of equal points is kept.
/// Points are visited in decreasing lexicographic order, where a point can only be dominated
/// by an earlier one; each is compared with the front found so far: O(n log n + n·F·m) for a
/// front of F points. `order` and `front` are scratch buffers (reused, no allocation once
/// large enough).
inline void non_dominated_mask_flat(const double* points, int n, int m, bool deduplicate,
                                    std::vector<char>& mask, std::vector<int>& order,
                                    std::vector<int>& front) {
  mask.assign(static_cast<std::size_t>(n), 0);
  order.resize(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // Ties broken by index, so that the first of equal points is met first (std::sort does
  // not allocate, unlike std::stable_sort).
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return lexicographically_before(points, m, a, b); });
  non_dominated_sweep(points, m, deduplicate, order, nullptr, mask, front);
}

}  // namespace detail

/// True when `a` dominates `b` under maximization: a ≥ b everywhere and a > b somewhere.
/// `a` and `b` must have the same length. Cost O(m).
inline bool dominates(const Eigen::Ref<const Eigen::VectorXd>& a,
                      const Eigen::Ref<const Eigen::VectorXd>& b) {
  detail::require(a.size() == b.size(), "bomf::dominates", "arguments 'a' and 'b' have lengths ",
                  a.size(), " and ", b.size(), ", expected equal lengths");
  return (a.array() >= b.array()).all() && (a.array() > b.array()).any();
}

/// Mask of the non-dominated rows of `Y` (`n × m`, maximization), as BoTorch's
/// `is_non_dominated`: with `deduplicate` (the default) only the first of several equal rows
/// is marked, without it every copy of a non-dominated row is. NaN or ±∞ entries throw
/// `bomf::invalid_argument` (BoTorch silently treats NaN rows as dominated; we refuse them).
/// An empty `Y` gives an empty mask. Cost O(n log n + n·F·m) for a front of F points
/// (worst case O(n²m)).
inline std::vector<bool> non_dominated_mask(const Eigen::Ref<const Eigen::MatrixXd>& Y,
                                            bool deduplicate = true) {
  detail::require_point_set(Y, "bomf::non_dominated_mask");
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = Y;
  std::vector<char> mask;
  std::vector<int> order, front;
  detail::non_dominated_mask_flat(rows.data(), static_cast<int>(Y.rows()),
                                  static_cast<int>(Y.cols()), deduplicate, mask, order, front);
  return std::vector<bool>(mask.begin(), mask.end());
}

/// The Pareto front of `Y` (`n × m`) that matters for a hypervolume with reference point
/// `ref_point` (length m): the non-dominated, deduplicated rows that are strictly better than
/// `ref_point` in every objective, in their order in `Y` (BoTorch's
/// `_pad_batch_pareto_frontier` for an unbatched `Y`). Returns a `k × m` matrix, possibly with
/// k = 0. Throws on non-finite entries or a `ref_point` of the wrong length.
/// Cost as `non_dominated_mask`.
inline Eigen::MatrixXd pareto_front(const Eigen::Ref<const Eigen::MatrixXd>& Y,
                                    const Eigen::Ref<const Eigen::VectorXd>& ref_point) {
  detail::require_point_set(Y, ref_point, "bomf::pareto_front");
  const auto m = ref_point.size();
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = Y;
  std::vector<char> mask;
  std::vector<int> order, front;
  detail::non_dominated_mask_flat(rows.data(), static_cast<int>(Y.rows()), static_cast<int>(m),
                                  true, mask, order, front);
  std::vector<Eigen::Index> keep;
  for (Eigen::Index i = 0; i < Y.rows(); ++i) {
    if (mask[static_cast<std::size_t>(i)] &&
        (Y.row(i).transpose().array() > ref_point.array()).all()) {
      keep.push_back(i);
    }
  }
  Eigen::MatrixXd out(static_cast<Eigen::Index>(keep.size()), m);
  for (std::size_t k = 0; k < keep.size(); ++k) {
    out.row(static_cast<Eigen::Index>(k)) = Y.row(keep[k]);
  }
  return out;
}

/// Non-dominated sorting (Deb et al., "A fast and elitist multiobjective genetic algorithm:
/// NSGA-II", IEEE TEC 2002): the front index of every row of `Y` (`n × m`, maximization);
/// 0 is the Pareto front, 1 the front of what remains once it is removed, and so on. Equal
/// rows never dominate each other and share a front. Throws on non-finite entries.
/// Cost O(m n²) time, O(n²) memory in the worst case.
inline std::vector<int> non_dominated_sort(const Eigen::Ref<const Eigen::MatrixXd>& Y) {
  detail::require_point_set(Y, "bomf::non_dominated_sort");
  const auto n = static_cast<int>(Y.rows());
  const auto m = static_cast<int>(Y.cols());
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = Y;
  std::vector<std::vector<int>> dominated_by(static_cast<std::size_t>(n));
  std::vector<int> count(static_cast<std::size_t>(n), 0);
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      const double* pa = rows.data() + static_cast<std::ptrdiff_t>(a) * m;
      const double* pb = rows.data() + static_cast<std::ptrdiff_t>(b) * m;
      const bool ab = detail::weakly_dominates(pa, pb, m);
      const bool ba = detail::weakly_dominates(pb, pa, m);
      if (ab && !ba) {
        dominated_by[static_cast<std::size_t>(a)].push_back(b);
        ++count[static_cast<std::size_t>(b)];
      } else if (ba && !ab) {
        dominated_by[static_cast<std::size_t>(b)].push_back(a);
        ++count[static_cast<std::size_t>(a)];
      }
    }
  }
  std::vector<int> rank(static_cast<std::size_t>(n), -1);
  std::vector<int> current;
  for (int i = 0; i < n; ++i) {
    if (count[static_cast<std::size_t>(i)] == 0) {
      current.push_back(i);
    }
  }
  int level = 0;
  while (!current.empty()) {
    std::vector<int> next;
    for (const int i : current) {
      rank[static_cast<std::size_t>(i)] = level;
      for (const int j : dominated_by[static_cast<std::size_t>(i)]) {
        if (--count[static_cast<std::size_t>(j)] == 0) {
          next.push_back(j);
        }
      }
    }
    current.swap(next);
    ++level;
  }
  return rank;
}

}  // namespace bomf
