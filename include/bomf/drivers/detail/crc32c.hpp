// bomf/drivers/detail/crc32c.hpp — CRC-32C (Castagnoli), the checksum of every journal line.
//
// The polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value and final XOR 0xFFFFFFFF, as
// iSCSI (RFC 3720, App. B.4) and ext4 use it; check value crc32c("123456789") = 0xE3069283.
// Table-driven, one byte at a time: a journal line is a few hundred bytes, hashed once when
// written and once when read.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace bomf::detail {

/// The 256-entry table of the reflected polynomial.
inline const std::array<std::uint32_t, 256>& crc32c_table() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1U) != 0 ? (c >> 1) ^ 0x82F63B78U : c >> 1;
      }
      t[i] = c;
    }
    return t;
  }();
  return table;
}

/// CRC-32C of the bytes of `data`.
inline std::uint32_t crc32c(std::string_view data) {
  const auto& table = crc32c_table();
  std::uint32_t c = 0xFFFFFFFFU;
  for (const char ch : data) {
    c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (c >> 8);
  }
  return c ^ 0xFFFFFFFFU;
}

}  // namespace bomf::detail
