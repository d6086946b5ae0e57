#include "cli/protocol.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf::cli {
namespace {

std::string_view last_nonblank_line(std::string_view text) {
  auto end = text.find_last_not_of(" \t\r\n");
  if (end == std::string_view::npos) {
    return {};
  }
  const auto begin = text.rfind('\n', end);
  const std::size_t first = begin == std::string_view::npos ? 0 : begin + 1;
  return text.substr(first, end + 1 - first);
}

std::string shorten(std::string_view text, std::size_t max = 200) {
  if (text.size() <= max) {
    return std::string(text);
  }
  return std::string(text.substr(0, max)) + "…";
}

/// The finite number at `value`, or a failure reason naming `what`.
bool read_number(const nlohmann::json& value, const std::string& what, double& out,
                 std::string& failure) {
  if (value.is_null()) {
    failure = what + " is null";
    return false;
  }
  if (!value.is_number()) {
    failure = what + " is " + shorten(value.dump()) + ", expected a number";
    return false;
  }
  out = value.get<double>();
  if (!std::isfinite(out)) {
    failure = what + " is not finite";
    return false;
  }
  return true;
}

/// `line` parsed as JSON; on failure the discarded value and, in `reason`, what the parser
/// found (without nlohmann's "[json.exception…]" tag), e.g. "number overflow parsing '1e999'".
/// A key repeated within one object (JSON parsers disagree on which value counts) is a failure
/// too: `repeated_key` names it.
nlohmann::json parse_answer(std::string_view line, std::string& reason, std::string& repeated_key) {
  std::vector<std::set<std::string>> keys;  // the keys of each object being parsed
  const nlohmann::json::parser_callback_t note_keys =
      [&keys, &repeated_key](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::object_start) {
          keys.emplace_back();
        } else if (event == nlohmann::json::parse_event_t::object_end && !keys.empty()) {
          keys.pop_back();
        } else if (event == nlohmann::json::parse_event_t::key && !keys.empty() &&
                   !keys.back().insert(parsed.get<std::string>()).second && repeated_key.empty()) {
          repeated_key = parsed.get<std::string>();
        }
        return true;
      };
  try {
    nlohmann::json answer = nlohmann::json::parse(line.begin(), line.end(), note_keys);
    return repeated_key.empty() ? answer : nlohmann::json(nlohmann::json::value_t::discarded);
  } catch (const nlohmann::json::exception& e) {
    reason = e.what();
    if (reason.rfind("[json.exception.", 0) == 0 && reason.find("] ") != std::string::npos) {
      reason = reason.substr(reason.find("] ") + 2);
    }
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
}

}  // namespace

EvaluatorOutcome parse_evaluator_answer(std::string_view stdout_text,
                                        const FusionObjectives& objectives) {
  EvaluatorOutcome out;
  const std::string_view line = last_nonblank_line(stdout_text);
  if (line.empty()) {
    out.failure = "no answer: the evaluator printed nothing on standard output";
    return out;
  }
  std::string reason;
  std::string repeated_key;
  const nlohmann::json answer = parse_answer(line, reason, repeated_key);
  if (!repeated_key.empty()) {
    out.failure = detail::concat("malformed answer: the key \"", shorten(repeated_key),
                                 "\" appears twice in one object: ", shorten(line));
    return out;
  }
  if (answer.is_discarded() || !answer.is_object()) {
    const bool non_json_number = line.find("NaN") != std::string_view::npos ||
                                 line.find("Infinity") != std::string_view::npos;
    out.failure = detail::concat(
        "malformed answer: the last line of standard output is not a JSON object",
        non_json_number ? " (NaN and Infinity are not JSON: print null, or exit non-zero)" : "",
        reason.empty() ? std::string() : " (" + shorten(reason) + ")", ": ", shorten(line));
    return out;
  }
  const auto version = answer.find("bomf_protocol");
  if (version == answer.end()) {
    out.failure = detail::concat("malformed answer: no \"bomf_protocol\" key (expected ",
                                 kEvaluatorProtocolVersion, "): ", shorten(line));
    return out;
  }
  if (!version->is_number_integer() || version->get<long long>() != kEvaluatorProtocolVersion) {
    out.failure =
        detail::concat("unsupported answer: \"bomf_protocol\" is ", shorten(version->dump()),
                       ", this bomf speaks version ", kEvaluatorProtocolVersion);
    return out;
  }
  if (const auto error = answer.find("error"); error != answer.end() && !error->is_null()) {
    out.failure =
        "the evaluator reported an error: " +
        (error->is_string() ? shorten(error->get<std::string>(), 1000) : shorten(error->dump()));
    return out;
  }
  const auto loss = answer.find("loss");
  if (loss == answer.end()) {
    out.failure = "malformed answer: no \"loss\" key";
    return out;
  }
  if (!read_number(*loss, "\"loss\"", out.evaluation.loss, out.failure)) {
    out.failure = "malformed answer: " + out.failure;
    return out;
  }
  const auto metrics = answer.find("metrics");
  if (metrics == answer.end() || !metrics->is_object()) {
    out.failure = "malformed answer: no \"metrics\" object";
    return out;
  }
  out.evaluation.metrics.resize(static_cast<Eigen::Index>(objectives.metrics.size()));
  for (std::size_t k = 0; k < objectives.metrics.size(); ++k) {
    const std::string& name = objectives.metrics[k].name;
    const auto value = metrics->find(name);
    if (value == metrics->end()) {
      std::string have;
      for (const auto& [key, v] : metrics->items()) {
        have += (have.empty() ? "" : ", ") + key;
      }
      out.failure =
          detail::concat("malformed answer: metric '", name, "' is missing (the answer has: ",
                         have.empty() ? std::string("none") : shorten(have), ")");
      return out;
    }
    double number = 0;
    if (!read_number(*value, "metric '" + name + "'", number, out.failure)) {
      out.failure = "malformed answer: " + out.failure;
      return out;
    }
    out.evaluation.metrics[static_cast<Eigen::Index>(k)] = number;
  }
  out.ok = true;
  return out;
}

EvaluatorOutcome evaluator_outcome(const ProcessResult& process,
                                   const FusionObjectives& objectives) {
  EvaluatorOutcome out;
  if (!process.ok()) {
    out.failure = "the evaluator command failed: " + process.describe();
  } else if (process.stdout_truncated) {
    out.failure =
        detail::concat("the evaluator's standard output exceeded the ", process.stdout_text.size(),
                       " bytes kept; print logs to standard error");
  } else {
    out = parse_evaluator_answer(process.stdout_text, objectives);
  }
  out.stderr_tail = process.stderr_tail;
  return out;
}

}  // namespace bomf::cli
