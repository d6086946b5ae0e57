// tests/support/reference.hpp — reading the BoTorch reference values in tests/data/.
//
// The files are copies of ../shared/reference/ (see tests/data/README.md): numbers are
// written with shortest round-trip formatting, arrays are nested row-major lists.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace bomf::test {

/// Parses tests/data/<file_name>.
inline nlohmann::json load_reference(const std::string& file_name) {
  const std::string path = std::string(BOMF_TEST_DATA_DIR) + "/" + file_name;
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot open reference file " + path);
  }
  return nlohmann::json::parse(in);
}

/// A JSON list of numbers as a vector.
inline Eigen::VectorXd to_vector(const nlohmann::json& list) {
  Eigen::VectorXd v(static_cast<Eigen::Index>(list.size()));
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    v(i) = list.at(static_cast<std::size_t>(i)).get<double>();
  }
  return v;
}

/// A JSON list of equal-length lists of numbers as a row-major matrix (rows = outer list).
/// An empty list gives a 0 × 0 matrix.
inline Eigen::MatrixXd to_matrix(const nlohmann::json& rows) {
  const auto n = static_cast<Eigen::Index>(rows.size());
  const Eigen::Index m = n == 0 ? 0 : static_cast<Eigen::Index>(rows.at(0).size());
  Eigen::MatrixXd out(n, m);
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto& row = rows.at(static_cast<std::size_t>(i));
    if (static_cast<Eigen::Index>(row.size()) != m) {
      throw std::runtime_error("ragged matrix in reference data");
    }
    for (Eigen::Index j = 0; j < m; ++j) {
      out(i, j) = row.at(static_cast<std::size_t>(j)).get<double>();
    }
  }
  return out;
}

/// |actual − expected| ≤ max(rel·|expected|, abs_floor).
inline bool close(double actual, double expected, double rel, double abs_floor = 0.0) {
  const double tol = std::max(rel * std::abs(expected), abs_floor);
  return std::abs(actual - expected) <= tol;
}

}  // namespace bomf::test
