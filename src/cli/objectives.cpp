#include "cli/objectives.hpp"

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "bomf/core/error.hpp"
#include "cli/arguments.hpp"

namespace bomf::cli {
namespace {

struct Objective {
  std::string name;
  std::string kind;
  std::string direction;  // empty: the default
};

bool valid_name(const std::string& name) {
  if (name.empty()) {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == '/';
    if (!ok) {
      return false;
    }
  }
  return true;
}

/// Checks the entries and builds the objectives; `where(k)` names entry k in messages.
template <class Where>
FusionObjectives build(const std::vector<Objective>& entries, Where&& where) {
  FusionObjectives out;
  bool have_loss = false;
  std::set<std::string> names;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const Objective& e = entries[k];
    if (!valid_name(e.name)) {
      throw usage_error(detail::concat(where(k), ": the name '", e.name,
                                       "' is not a non-empty name of letters, digits, '_', "
                                       "'-', '.' or '/'"));
    }
    if (!names.insert(e.name).second) {
      throw usage_error(detail::concat(where(k), ": the name '", e.name,
                                       "' is used twice, expected distinct objective names"));
    }
    if (e.kind == "loss") {
      if (have_loss) {
        throw usage_error(detail::concat(where(k), ": a second loss ('", e.name, "', after '",
                                         out.loss_name, "'), expected exactly one loss"));
      }
      if (!e.direction.empty() && e.direction != "minimize" && e.direction != "min") {
        throw usage_error(detail::concat(where(k), ": the loss '", e.name, "' has direction '",
                                         e.direction,
                                         "'; a loss is always minimized (declare a quantity to "
                                         "maximize as a metric)"));
      }
      have_loss = true;
      out.loss_name = e.name;
    } else if (e.kind == "metric") {
      MetricSpec metric{e.name, Direction::maximize};
      if (e.direction == "minimize" || e.direction == "min") {
        metric.direction = Direction::minimize;
      } else if (!e.direction.empty() && e.direction != "maximize" && e.direction != "max") {
        throw usage_error(detail::concat(where(k), ": the direction is '", e.direction,
                                         "', expected maximize, max, minimize or min"));
      }
      out.metrics.push_back(std::move(metric));
    } else {
      throw usage_error(
          detail::concat(where(k), ": the kind is '", e.kind, "', expected loss or metric"));
    }
  }
  if (!have_loss) {
    throw usage_error(detail::concat(where(entries.size()),
                                     ": no loss declared, expected exactly one objective of kind "
                                     "loss (e.g. loss:loss)"));
  }
  if (out.metrics.empty()) {
    throw usage_error(detail::concat(where(entries.size()),
                                     ": no metric declared, expected at least one objective of "
                                     "kind metric (e.g. accuracy:metric:maximize)"));
  }
  return out;
}

}  // namespace

FusionObjectives parse_objectives(const std::vector<std::string>& specs, std::string_view option) {
  std::vector<Objective> entries;
  for (const auto& spec : specs) {
    std::vector<std::string> fields;
    std::stringstream in(spec);
    std::string field;
    while (std::getline(in, field, ':')) {
      fields.push_back(field);
    }
    if (!spec.empty() && spec.back() == ':') {
      fields.emplace_back();
    }
    if (fields.size() < 2 || fields.size() > 3) {
      throw usage_error(detail::concat(option, " '", spec,
                                       "': expected NAME:KIND or NAME:KIND:DIRECTION (KIND loss or "
                                       "metric), e.g. accuracy:metric:maximize"));
    }
    entries.push_back({fields[0], fields[1], fields.size() == 3 ? fields[2] : std::string()});
    if (fields.size() == 3 && fields[2].empty()) {
      entries.back().direction = "(empty)";
    }
  }
  return build(entries, [&](std::size_t k) {
    return k < specs.size() ? detail::concat(option, " '", specs[k], "'") : std::string(option);
  });
}

FusionObjectives parse_objectives_json(std::string_view text, const std::string& path) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw usage_error(detail::concat("objectives file '", path, "': not JSON: ", error.what()));
  }
  const auto list = root.is_object() ? root.find("objectives") : root.end();
  if (!root.is_object() || list == root.end() || !list->is_array()) {
    throw usage_error(
        detail::concat("objectives file '", path, "': expected an object {\"objectives\": [...]}"));
  }
  std::vector<Objective> entries;
  for (std::size_t k = 0; k < list->size(); ++k) {
    const auto& item = (*list)[k];
    const std::string where = detail::concat("objectives file '", path, "', entry ", k + 1);
    if (!item.is_object()) {
      throw usage_error(where + ": expected an object with \"name\" and \"kind\"");
    }
    Objective e;
    for (const auto& [key, value] : item.items()) {
      if (key != "name" && key != "kind" && key != "direction") {
        throw usage_error(detail::concat(where, ": unknown key \"", key,
                                         "\", expected name, kind and direction"));
      }
      if (!value.is_string()) {
        throw usage_error(
            detail::concat(where, ": \"", key, "\" is ", value.dump(), ", expected a string"));
      }
    }
    if (!item.contains("name") || !item.contains("kind")) {
      throw usage_error(where + ": \"name\" and \"kind\" are required");
    }
    e.name = item["name"].get<std::string>();
    e.kind = item["kind"].get<std::string>();
    e.direction = item.value("direction", std::string());
    if (item.contains("direction") && e.direction.empty()) {
      e.direction = "(empty)";
    }
    entries.push_back(std::move(e));
  }
  return build(entries, [&](std::size_t k) {
    return k < entries.size() ? detail::concat("objectives file '", path, "', entry ", k + 1)
                              : detail::concat("objectives file '", path, "'");
  });
}

}  // namespace bomf::cli
