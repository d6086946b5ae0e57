// cli/command_template.hpp — the evaluator command line as a template with {placeholders}.
// libtorch-free.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace bomf::cli {

/// `text` quoted for /bin/sh: inside single quotes, each ' written as '\''. The shell reads it
/// back as exactly `text`, whatever it holds (spaces, $, `, ", newlines).
[[nodiscard]] std::string shell_quote(std::string_view text);

/// The placeholders `bomf search` fills in its evaluator command and environment templates
/// (docs/cli.md): {weights} the fused checkpoint written for this δ (a file or, for PEFT
/// members, a directory), {delta} δ as comma-separated reals (17 significant digits), {members}
/// the member paths (several words), {worker} the worker index 0…K−1, {id} the evaluation's
/// number, {scratch} the evaluation's scratch directory.
[[nodiscard]] const std::set<std::string>& search_placeholders();

/// A placeholder's value: one word, or several (e.g. {members}).
using PlaceholderValues = std::map<std::string, std::vector<std::string>>;

/// The placeholders of a command template.
///
/// A placeholder is `{name}` with `name` made of lower-case letters, digits and '_' (starting
/// with a letter); `{{` and `}}` stand for literal braces; any other brace is literal, so
/// `python -c 'print({"a": 1})'` needs no escaping. A placeholder whose name is not among the
/// known ones is an error (a typo such as `{weight}` would otherwise pass silently).
class CommandTemplate {
 public:
  /// Parses `text`; throws `bomf::invalid_argument` naming `option`, the placeholder and the
  /// known names for an unknown placeholder. `known` lists the names that may appear.
  CommandTemplate(std::string text, const std::set<std::string>& known, std::string option);

  /// The names `text` uses.
  [[nodiscard]] const std::set<std::string>& used() const noexcept { return used_; }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

  /// `text` with every placeholder replaced by its value from `values`: with `quote` (command
  /// lines) each word shell-quoted and the words separated by spaces — so values never need
  /// quoting, and must not be quoted, by the user; without (environment values) verbatim, the
  /// words separated by commas. Throws `bomf::invalid_argument` when a used name has no value.
  [[nodiscard]] std::string expand(const PlaceholderValues& values, bool quote) const;

 private:
  std::string text_;
  std::string option_;
  std::set<std::string> used_;
};

}  // namespace bomf::cli
