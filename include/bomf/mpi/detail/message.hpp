// bomf/mpi/detail/message.hpp — the bytes of a message between ranks: fixed-size integers,
// doubles (bit for bit, NaN and infinities included), strings and vectors, in the byte order of
// the machine. The ranks of one job run one build on one architecture, so nothing is converted;
// the hello message (protocol.hpp) checks that every rank speaks the same protocol version.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/mpi/communication.hpp"

namespace bomf::mpi::detail {

using Bytes = std::vector<unsigned char>;

/// Appends values to a message.
class Writer {
 public:
  template <class T>
  Writer& put(T value) {
    static_assert(std::is_arithmetic_v<T>, "Writer::put: a number");
    const auto* p = reinterpret_cast<const unsigned char*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
    return *this;
  }
  Writer& put_string(const std::string& s) {
    put<std::uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  Writer& put_doubles(const double* data, std::size_t n) {
    put<std::uint64_t>(n);
    const auto* p = reinterpret_cast<const unsigned char*>(data);
    bytes_.insert(bytes_.end(), p, p + n * sizeof(double));
    return *this;
  }
  Writer& put_vector(const Eigen::VectorXd& v) {
    return put_doubles(v.data(), static_cast<std::size_t>(v.size()));
  }
  Writer& put_vector(const std::vector<double>& v) { return put_doubles(v.data(), v.size()); }
  [[nodiscard]] const Bytes& bytes() const { return bytes_; }
  [[nodiscard]] Bytes take() { return std::move(bytes_); }

 private:
  Bytes bytes_;
};

/// Reads values back; reading past the end, or leaving bytes unread at `finish`, throws
/// protocol_error naming `what` (e.g. "the result from rank 2").
class Reader {
 public:
  Reader(const Bytes& bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}

  template <class T>
  T get() {
    static_assert(std::is_arithmetic_v<T>, "Reader::get: a number");
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::string get_string() {
    const std::size_t n = count(1);
    const auto* p = reinterpret_cast<const char*>(take(n));
    return std::string(p, n);
  }
  Eigen::VectorXd get_vector() {
    const std::size_t n = count(sizeof(double));
    Eigen::VectorXd v(static_cast<Eigen::Index>(n));
    if (n > 0)
      std::memcpy(v.data(), take(n * sizeof(double)), n * sizeof(double));
    return v;
  }
  std::vector<double> get_doubles() {
    const Eigen::VectorXd v = get_vector();
    return std::vector<double>(v.data(), v.data() + v.size());
  }
  /// The bytes not read yet (and skips them).
  Bytes rest() {
    Bytes out(bytes_.begin() + static_cast<std::ptrdiff_t>(offset_), bytes_.end());
    offset_ = bytes_.size();
    return out;
  }
  /// Throws unless every byte was read.
  void finish() const {
    if (offset_ != bytes_.size()) {
      throw protocol_error(bomf::detail::concat(
          "bomf::mpi: ", what_, " has ", bytes_.size() - offset_, " bytes more than expected (",
          bytes_.size(), " bytes; a different bomf build on that rank?)"));
    }
  }
  [[nodiscard]] const std::string& what() const { return what_; }

 private:
  // A length prefix, checked against the bytes left (elements of `element_size` bytes).
  std::size_t count(std::size_t element_size) {
    const auto n = get<std::uint64_t>();
    if (n > (bytes_.size() - offset_) / element_size)
      fail(n, element_size == 1 ? "bytes" : "values");
    return static_cast<std::size_t>(n);
  }
  const unsigned char* take(std::size_t n) {
    if (n > bytes_.size() - offset_)
      fail(n, "bytes");
    const unsigned char* p = bytes_.data() + offset_;
    offset_ += n;
    return p;
  }
  [[noreturn]] void fail(std::uint64_t wanted, const char* unit) const {
    throw protocol_error(bomf::detail::concat(
        "bomf::mpi: ", what_, " ends early: ", wanted, " more ", unit, " expected at byte ",
        offset_, " of ", bytes_.size(), " (a different bomf build on that rank?)"));
  }

  const Bytes& bytes_;
  std::string what_;
  std::size_t offset_ = 0;
};

}  // namespace bomf::mpi::detail
