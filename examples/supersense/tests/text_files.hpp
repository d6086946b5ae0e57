// Text helpers the supersense tests share: a whole file as a string, and a string split at a
// separator (empty fields kept, no trailing empty field).
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace supersense::test {

/// The bytes of `path` ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// `s` split at each `separator`.
inline std::vector<std::string> split(const std::string& s, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, separator)) {
    parts.push_back(part);
  }
  return parts;
}

}  // namespace supersense::test
