// Helpers of the `bomf search` / `bomf report` tests: tiny members, a shell evaluator whose
// answer is a known function of δ, and journal readers.
#pragma once

#include <ATen/ops/full.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bomf/io/safetensors.hpp"
#include "cli_test_util.hpp"

namespace bomf::test {

/// `n` small safetensors members (one float tensor `tensor` of 4 values each) in `dir`.
inline std::vector<std::string> tiny_members(const fs::path& dir, int n,
                                             const std::string& tensor = "w") {
  std::vector<std::string> paths;
  for (int i = 0; i < n; ++i) {
    const std::string path = (dir / ("member" + std::to_string(i + 1) + ".safetensors")).string();
    StateDict state;
    state.insert(tensor, at::full({4}, static_cast<double>(i + 1), at::kFloat));
    save_safetensors(path, state);
    paths.push_back(path);
  }
  return paths;
}

/// A shell evaluator, `sh eval.sh {delta}`: loss = Σ_i (δ_i − c_i)², c_i = i / Σ_j j (an interior
/// optimum), metric "acc" = 1 − 2·loss. Environment: SLEEP (seconds before answering), LOG (a
/// file getting "start|end WORKER SLOT DELTA TIME PID" lines), FAIL (δ_2 in (0.2, 0.8) exits 3
/// after "boom" on stderr), HANG (δ_3 in (0.3, 0.7) sleeps 60 s).
inline std::string shell_evaluator(const fs::path& dir) {
  const std::string path = (dir / "eval.sh").string();
  std::ofstream(path) << R"(#!/bin/sh
log() { if [ -n "$LOG" ]; then echo "$1 ${BOMF_WORKER:-} ${SLOT:--} $2 $(date +%s.%N) $$" >> "$LOG"; fi; }
log start "$1"
sleep "${SLEEP:-0}"
if [ -n "$FAIL" ] && awk -v d="$1" 'BEGIN{split(d,a,","); exit !(a[2] > 0.2 && a[2] < 0.8)}'; then
  echo "boom at $1" >&2; exit 3
fi
if [ -n "$HANG" ] && awk -v d="$1" 'BEGIN{split(d,a,","); exit !(a[3] > 0.3 && a[3] < 0.7)}'; then
  sleep 60
fi
awk -v d="$1" 'BEGIN{n=split(d,a,","); l=0; for(i=1;i<=n;i++){c=i/(n*(n+1)/2); l+=(a[i]-c)^2};
  printf "{\"bomf_protocol\":1,\"loss\":%.17g,\"metrics\":{\"acc\":%.17g}}\n", l, 1-2*l}'
log end "$1"
exit 0
)";
  return path;
}

/// The records of kind "evaluation" of a journal, in order.
inline std::vector<nlohmann::json> evaluation_records(const std::string& journal) {
  std::vector<nlohmann::json> out;
  std::ifstream in(journal);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("kind", std::string()) == "evaluation") {
      out.push_back(j);
    }
  }
  return out;
}

/// δ of a record.
inline std::vector<double> delta_of(const nlohmann::json& record) {
  return record.at("delta").get<std::vector<double>>();
}

/// δ as bomf writes {delta} (17 significant digits) read back exactly.
inline std::vector<double> parse_delta(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string field; std::getline(in, field, ',');) {
    out.push_back(std::strtod(field.c_str(), nullptr));
  }
  return out;
}

/// The non-empty lines of `text`.
inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

/// The non-empty lines of a text file.
inline std::vector<std::string> lines_of(const std::string& path) {
  return lines(read_bytes(path));
}

/// The rows of a CSV file without quoted fields spanning lines (methods.csv): fields split at
/// commas outside quotes.
inline std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : lines_of(path)) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (const char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        fields.emplace_back();
      } else {
        fields.back() += c;
      }
    }
    rows.push_back(fields);
  }
  return rows;
}

/// The row of `method` in methods.csv (empty when absent).
inline std::vector<std::string> method_row(const std::string& methods_csv,
                                           const std::string& method) {
  for (auto& row : csv_rows(methods_csv)) {
    if (!row.empty() && row[0] == method) {
      return row;
    }
  }
  return {};
}

}  // namespace bomf::test
