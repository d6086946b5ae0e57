// cli/arguments.hpp — strict parsing of command-line values: numbers, comma-separated lists,
// key=value pairs. Every error names the option, the offending text and what was expected.
// libtorch-free.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bomf::cli {

/// A wrong command line (bad option value, missing argument, conflicting options): the program
/// prints the message and exits with status 2 (see docs/cli.md).
class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// `text` without its leading and trailing spaces and tabs.
[[nodiscard]] std::string_view trim(std::string_view text);

/// The finite real number spelled by the whole of `text` (leading/trailing spaces allowed, as
/// in "0.5 "). Throws `usage_error` "<option>: <what> is '<text>', expected a finite real
/// number" for an empty text, a non-number, trailing garbage ("0.5x"), NaN or an infinity
/// (including a literal that overflows a double), and a non-zero literal that rounds to 0 as a
/// double ("1e-400"; subnormal values such as 4.9e-324 are kept).
[[nodiscard]] double parse_real(std::string_view text, std::string_view option,
                                std::string_view what = "the value");

/// The integer spelled by the whole of `text`, within [min, max]. Throws `usage_error` naming
/// `option`, the text and the expected range ("expected an integer ≥ 1 (the number of
/// threads)" when `meaning` is "the number of threads").
[[nodiscard]] std::int64_t parse_integer(std::string_view text, std::string_view option,
                                         std::int64_t min, std::int64_t max,
                                         std::string_view meaning = {});

/// A comma-separated list of finite reals, "0.2,0.3,0.5". Every field must be a number: an
/// empty field ("0.5,,0.5", a leading or trailing comma) is refused, naming its position
/// (1-based) — never silently dropped — as are non-numbers, trailing garbage and NaN/inf.
[[nodiscard]] std::vector<double> parse_real_list(std::string_view text, std::string_view option);

/// "key=value" split at the first '='; throws `usage_error` when there is no '=' or the key is
/// empty.
[[nodiscard]] std::pair<std::string, std::string> parse_key_value(std::string_view text,
                                                                  std::string_view option);

}  // namespace bomf::cli
