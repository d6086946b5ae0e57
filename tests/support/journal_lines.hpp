// Editing journal lines in tests: a test that damages a journal on purpose to check the READER's
// semantic checks (a bad setting, an unknown status) must first get past the checksum, as an
// attacker or a buggy tool rewriting the line with a valid checksum would.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bomf/drivers/journal.hpp"

namespace bomf::test {

/// `line` (a journal line) with its checksum recomputed after an edit of its content.
inline std::string reseal(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line);
  j.erase("crc");
  j["crc"] = bomf::detail::journal_checksum(bomf::detail::journal_canonical_text(j));
  return j.dump();
}

/// `edit` applied to the JSON of `line`, resealed.
template <class Edit>
std::string edited(const std::string& line, Edit&& edit) {
  nlohmann::json j = nlohmann::json::parse(line);
  edit(j);
  return reseal(j.dump());
}

/// The lines of a file, without their newlines.
inline std::vector<std::string> file_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

/// Writes `lines` (each followed by a newline) to `path`, replacing it.
inline void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  for (const std::string& l : lines) {
    out << l << '\n';
  }
}

}  // namespace bomf::test
