// bomf/io/safetensors_header.hpp — the safetensors container format: dtypes, the header, and a
// parser that validates an untrusted byte span. libtorch-free (the fuzz target links only this).
//
// Format (Hugging Face safetensors): bytes [0, 8) hold N, the header length, as a little-endian
// u64; bytes [8, 8 + N) a UTF-8 JSON object mapping each tensor name to
// {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]} plus an optional
// "__metadata__" object of string → string; the rest of the file is the data section, and a
// tensor's bytes are data[begin, end) in little-endian, row-major order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bomf {

/// Element types of the safetensors format (the names in the header, e.g. "BF16").
enum class SafetensorsDtype {
  BOOL,
  U8,
  I8,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
  F8_E4M3,
  F8_E5M2,
};

/// Size of one element of `dtype` in bytes (1, 2, 4 or 8).
[[nodiscard]] std::size_t safetensors_dtype_size(SafetensorsDtype dtype) noexcept;

/// The header spelling of `dtype`, e.g. "BF16".
[[nodiscard]] const char* safetensors_dtype_name(SafetensorsDtype dtype) noexcept;

/// The dtype spelled `name` in a header ("F32", "BF16", ...), or nothing for an unknown name.
[[nodiscard]] std::optional<SafetensorsDtype> safetensors_dtype_from_name(std::string_view name);

/// One tensor's entry in a safetensors header. `begin`/`end` are byte offsets relative to the
/// start of the data section (`SafetensorsHeader::data_offset` in the file).
struct SafetensorsTensorInfo {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::F32;
  std::vector<std::int64_t> shape;  ///< row-major extents; {} is a scalar
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  /// Number of elements (product of `shape`; 1 for a scalar).
  [[nodiscard]] std::uint64_t numel() const noexcept;
  /// Byte length `end − begin` (= numel · element size in a validated header).
  [[nodiscard]] std::uint64_t nbytes() const noexcept { return end - begin; }
};

/// A parsed and validated safetensors header.
struct SafetensorsHeader {
  /// Tensors in data order (ascending `begin`, ties by name).
  std::vector<SafetensorsTensorInfo> tensors;
  /// The "__metadata__" object (empty when absent).
  std::map<std::string, std::string> metadata;
  /// File offset of the data section: 8 + header length.
  std::uint64_t data_offset = 0;
  /// Length of the data section in bytes (file size − data_offset).
  std::uint64_t data_size = 0;

  /// The entry named `name`, or nullptr.
  [[nodiscard]] const SafetensorsTensorInfo* find(std::string_view name) const;

  /// Rebuilds the name index after `tensors` was changed by hand.
  void reindex();

 private:
  std::unordered_map<std::string, std::size_t> index_;
};

/// Largest header accepted by the parser (100 MB, as the reference implementation).
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

/// Parses and validates the safetensors file whose complete contents are `bytes[0, size)`.
///
/// Treats the input as untrusted and never reads outside the span. Throws `bomf::io_error`
/// naming `source` (a file name, used in messages only) for: fewer than 8 bytes; a header length
/// larger than the remaining bytes or than `kSafetensorsMaxHeaderBytes`; a header that does not
/// begin with '{' (byte-order mark, leading whitespace) or holds a NUL byte (trailing padding
/// must be spaces); malformed JSON (invalid UTF-8 included) or a top level that is not an
/// object; nesting deeper than the format's three levels; duplicate keys; an entry without a string
/// "dtype", an array "shape" of non-negative integers or a two-element "data_offsets"; an unknown
/// dtype; begin > end or end beyond the data section; a byte range whose length is not numel ·
/// element size (including element-count overflow); overlapping byte ranges of non-empty tensors; a
/// "__metadata__" that is not an object of strings. Gaps between tensors are allowed.
/// Cost: O(header length + T log T) for T tensors.
[[nodiscard]] SafetensorsHeader parse_safetensors_header(const unsigned char* bytes,
                                                         std::size_t size,
                                                         std::string_view source = "<memory>");

/// The header length N stored in the first 8 bytes (little-endian), without validation.
[[nodiscard]] std::uint64_t read_le_u64(const unsigned char* bytes) noexcept;

/// Serializes a header for `tensors` (whose offsets must already be assigned) and `metadata`:
/// the 8-byte length followed by the JSON text, padded with spaces so that the data section
/// starts at a multiple of 8 bytes. Throws `bomf::invalid_argument` for a duplicate name, a
/// name equal to "__metadata__", a name or metadata text that is not valid UTF-8, a negative
/// extent or a byte range whose length does not match the shape. Cost: O(T log T).
[[nodiscard]] std::string serialize_safetensors_header(
    const std::vector<SafetensorsTensorInfo>& tensors,
    const std::map<std::string, std::string>& metadata);

}  // namespace bomf
