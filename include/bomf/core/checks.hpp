// bomf/core/checks.hpp — argument checks shared by every module.
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "bomf/core/error.hpp"

namespace bomf::detail {

/// Throws `bomf::invalid_argument` naming the first non-finite entry of `matrix` (row and
/// column) when any entry is NaN or ±∞. `where` is the calling function, `name` the argument.
template <class Derived>
void require_finite(const Eigen::DenseBase<Derived>& matrix, const char* where, const char* name) {
  for (Eigen::Index col = 0; col < matrix.cols(); ++col) {
    for (Eigen::Index row = 0; row < matrix.rows(); ++row) {
      const double value = static_cast<double>(matrix(row, col));
      if (!std::isfinite(value)) {
        throw_invalid_argument(where, "argument '", name, "' has a non-finite entry ", value,
                               " at row ", row, ", column ", col);
      }
    }
  }
}

/// Throws `bomf::invalid_argument` unless `matrix` is `rows × cols`; -1 accepts any extent.
template <class Derived>
void require_shape(const Eigen::EigenBase<Derived>& matrix, Eigen::Index rows, Eigen::Index cols,
                   const char* where, const char* name) {
  const bool rows_ok = rows < 0 || matrix.rows() == rows;
  const bool cols_ok = cols < 0 || matrix.cols() == cols;
  if (!rows_ok || !cols_ok) {
    throw_invalid_argument(where, "argument '", name, "' has shape ", matrix.rows(), "×",
                           matrix.cols(), ", expected ",
                           rows < 0 ? std::string("any") : concat(rows), "×",
                           cols < 0 ? std::string("any") : concat(cols));
  }
}

/// True when every entry on or below the diagonal of the square `matrix` is finite (the part a
/// Cholesky factorization reads; the rest may be uninitialized).
template <class Derived>
[[nodiscard]] bool lower_triangle_is_finite(const Eigen::DenseBase<Derived>& matrix) {
  for (Eigen::Index col = 0; col < matrix.cols(); ++col) {
    for (Eigen::Index row = col; row < matrix.rows(); ++row) {
      if (!std::isfinite(static_cast<double>(matrix(row, col))))
        return false;
    }
  }
  return true;
}

}  // namespace bomf::detail
