#include "cli/arguments.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "bomf/core/error.hpp"

namespace bomf::cli {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

namespace {}  // namespace

double parse_real(std::string_view text, std::string_view option, std::string_view what) {
  const std::string trimmed(trim(text));
  auto fail = [&](std::string_view why) {
    throw usage_error(
        detail::concat(option, ": ", what, " is '", text, "', expected a finite real number", why));
  };
  if (trimmed.empty()) {
    fail(" (it is empty)");
  }
  // strtod also accepts "nan", "inf", hexadecimal floats and leading whitespace: the checks
  // below keep to plain decimal numbers.
  if (trimmed.find_first_not_of("0123456789+-.eE") != std::string::npos) {
    fail("");
  }
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(trimmed.c_str(), &end);
  if (end != trimmed.c_str() + trimmed.size() || end == trimmed.c_str()) {
    fail("");
  }
  if (!std::isfinite(value) || (errno == ERANGE && std::abs(value) > 1.0)) {
    fail(" (it overflows a double)");
  }
  if (errno == ERANGE && value == 0.0 &&
      trimmed.find_first_of("123456789") < trimmed.find_first_of("eE")) {
    fail(" (it is not 0 but rounds to 0 as a double)");
  }
  return value;
}

std::int64_t parse_integer(std::string_view text, std::string_view option, std::int64_t min,
                           std::int64_t max, std::string_view meaning) {
  const std::string trimmed(trim(text));
  std::string expected;
  if (max == std::numeric_limits<std::int64_t>::max()) {
    expected = detail::concat("an integer ≥ ", min);
  } else {
    expected = detail::concat("an integer from ", min, " to ", max);
  }
  if (!meaning.empty()) {
    expected += detail::concat(" (", meaning, ")");
  }
  auto fail = [&] {
    throw usage_error(detail::concat(option, ": the value is '", text, "', expected ", expected));
  };
  if (trimmed.empty() || trimmed.find_first_not_of("0123456789+-") != std::string::npos) {
    fail();
  }
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(trimmed.c_str(), &end, 10);
  if (end != trimmed.c_str() + trimmed.size() || errno == ERANGE || value < min || value > max) {
    fail();
  }
  return value;
}

std::vector<double> parse_real_list(std::string_view text, std::string_view option) {
  std::vector<double> out;
  std::size_t start = 0;
  for (std::size_t field = 1;; ++field) {
    const auto comma = text.find(',', start);
    const std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (trim(item).empty()) {
      throw usage_error(detail::concat(option, ": field ", field, " of '", text,
                                       "' is empty, expected a finite real number in every "
                                       "comma-separated field"));
    }
    out.push_back(parse_real(item, option, detail::concat("field ", field, " of '", text, "'")));
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

std::pair<std::string, std::string> parse_key_value(std::string_view text,
                                                    std::string_view option) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw usage_error(
        detail::concat(option, ": '", text, "' is not key=value with a non-empty key"));
  }
  return {std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

}  // namespace bomf::cli
