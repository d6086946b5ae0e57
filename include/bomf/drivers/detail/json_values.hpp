// bomf/drivers/detail/json_values.hpp — numbers and vectors in the journals' JSON, and a reader
// that reports a malformed record by its line.
//
// JSON has no NaN or ∞: `json_number` and `json_from_vector` write them as null, and the readers
// read null back as NaN. Doubles are written by nlohmann::json with the shortest representation
// that parses back to the same double, so values round-trip bit for bit.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "bomf/core/error.hpp"

namespace bomf::detail {

/// `v` as JSON: the number, or null when it is not finite.
inline nlohmann::json json_number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

/// A vector as a JSON array; non-finite entries become null.
inline nlohmann::json json_from_vector(const Eigen::Ref<const Eigen::VectorXd>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    a.push_back(json_number(v(i)));
  }
  return a;
}

/// Reads the fields of one journal record; every problem is a bomf::io_error naming the journal
/// (`where`, e.g. "bomf::FusionLedger: journal 'run.jsonl'"), the line and the field.
class RecordReader {
 public:
  RecordReader(std::string where, std::size_t line, const nlohmann::json& record)
      : where_(std::move(where)), line_(line), record_(record) {}

  /// Throws the io_error "<where> line <line> is malformed: <what>".
  [[noreturn]] void fail(const std::string& what) const {
    throw io_error(concat(where_, " line ", line_, " is malformed: ", what));
  }

  /// The field `key` of the record (fails when absent).
  [[nodiscard]] const nlohmann::json& field(const char* key) const { return field(record_, key); }
  /// The field `key` of the JSON object `j` (fails when `j` is not an object or has no `key`).
  [[nodiscard]] const nlohmann::json& field(const nlohmann::json& j, const char* key) const {
    if (!j.is_object())
      fail(concat("'", key, "' is looked up in ", j.dump(), ", expected an object"));
    const auto it = j.find(key);
    if (it == j.end())
      fail(concat("no '", key, "'"));
    return *it;
  }
  /// A string.
  [[nodiscard]] std::string string(const nlohmann::json& j, const char* what) const {
    if (!j.is_string())
      fail(concat("'", what, "' is ", j.dump(), ", expected a string"));
    return j.get<std::string>();
  }
  /// A boolean.
  [[nodiscard]] bool boolean(const nlohmann::json& j, const char* what) const {
    if (!j.is_boolean())
      fail(concat("'", what, "' is ", j.dump(), ", expected true or false"));
    return j.get<bool>();
  }
  /// An integer.
  [[nodiscard]] long long integer(const nlohmann::json& j, const char* what) const {
    if (!j.is_number_integer())
      fail(concat("'", what, "' is ", j.dump(), ", expected an integer"));
    return j.get<long long>();
  }
  /// A number, or null (read as NaN).
  [[nodiscard]] double number(const nlohmann::json& j, const char* what) const {
    if (j.is_null())
      return std::numeric_limits<double>::quiet_NaN();
    if (!j.is_number())
      fail(concat("'", what, "' is ", j.dump(), ", expected a number or null"));
    return j.get<double>();
  }
  /// An array of numbers or nulls (NaN) of `expected_size` entries (any size when < 0).
  [[nodiscard]] Eigen::VectorXd vector(const nlohmann::json& j, const char* what,
                                       Eigen::Index expected_size = -1) const {
    if (!j.is_array())
      fail(concat("'", what, "' is ", j.dump(), ", expected an array"));
    const auto n = static_cast<Eigen::Index>(j.size());
    if (expected_size >= 0 && n != expected_size)
      fail(concat("'", what, "' has ", n, " entries, expected ", expected_size));
    Eigen::VectorXd v(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      v(i) = number(j[static_cast<std::size_t>(i)], what);
    }
    return v;
  }

 private:
  std::string where_;
  std::size_t line_;
  const nlohmann::json& record_;
};

}  // namespace bomf::detail
