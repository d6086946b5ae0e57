#include "cli/command_template.hpp"

#include <utility>

#include "bomf/core/error.hpp"

namespace bomf::cli {
namespace {

bool is_name_start(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '_';
}

/// Length of the placeholder `{name}` starting at `text[at]`, or 0 when none starts there.
std::size_t placeholder_at(std::string_view text, std::size_t at) {
  if (text[at] != '{' || at + 2 >= text.size() || !is_name_start(text[at + 1])) {
    return 0;
  }
  std::size_t k = at + 1;
  while (k < text.size() && is_name_char(text[k])) {
    ++k;
  }
  return k < text.size() && text[k] == '}' ? k + 1 - at : 0;
}

/// Calls `literal(text)` and `placeholder(name)` for the pieces of `text`, in order.
template <class Literal, class Placeholder>
void scan(std::string_view text, Literal&& literal, Placeholder&& placeholder) {
  std::size_t k = 0;
  while (k < text.size()) {
    if ((text[k] == '{' || text[k] == '}') && k + 1 < text.size() && text[k + 1] == text[k]) {
      literal(text.substr(k, 1));
      k += 2;
    } else if (const std::size_t n = placeholder_at(text, k); n > 0) {
      placeholder(std::string(text.substr(k + 1, n - 2)));
      k += n;
    } else {
      literal(text.substr(k, 1));
      ++k;
    }
  }
}

}  // namespace

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

CommandTemplate::CommandTemplate(std::string text, const std::set<std::string>& known,
                                 std::string option)
    : text_(std::move(text)), option_(std::move(option)) {
  scan(
      text_, [](std::string_view) {},
      [&](const std::string& name) {
        if (known.count(name) == 0) {
          std::string names;
          for (const auto& k : known) {
            names += (names.empty() ? "{" : ", {") + k + "}";
          }
          detail::throw_invalid_argument(option_.c_str(), "unknown placeholder {", name, "} in '",
                                         text_, "'; known placeholders: ", names,
                                         " (write {{ and }} for literal braces)");
        }
        used_.insert(name);
      });
}

const std::set<std::string>& search_placeholders() {
  static const std::set<std::string> kNames = {"weights", "delta", "members",
                                               "worker",  "id",    "scratch"};
  return kNames;
}

std::string CommandTemplate::expand(const PlaceholderValues& values, bool quote) const {
  std::string out;
  scan(
      text_, [&](std::string_view piece) { out += piece; },
      [&](const std::string& name) {
        const auto it = values.find(name);
        detail::require(it != values.end(), option_.c_str(), "placeholder {", name,
                        "} has no value here");
        for (std::size_t k = 0; k < it->second.size(); ++k) {
          if (k > 0) {
            out += quote ? " " : ",";
          }
          out += quote ? shell_quote(it->second[k]) : it->second[k];
        }
      });
  return out;
}

}  // namespace bomf::cli
