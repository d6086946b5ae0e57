// Parser and serializer for safetensors headers; libtorch-free so that the fuzz target and the
// sanitizer test build need only nlohmann-json.
#include "bomf/io/safetensors_header.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <utility>

#include "bomf/core/error.hpp"

namespace bomf {
namespace {

struct DtypeEntry {
  SafetensorsDtype dtype;
  const char* name;
  std::size_t size;
};

constexpr std::array<DtypeEntry, 15> kDtypes{{
    {SafetensorsDtype::BOOL, "BOOL", 1},
    {SafetensorsDtype::U8, "U8", 1},
    {SafetensorsDtype::I8, "I8", 1},
    {SafetensorsDtype::I16, "I16", 2},
    {SafetensorsDtype::U16, "U16", 2},
    {SafetensorsDtype::F16, "F16", 2},
    {SafetensorsDtype::BF16, "BF16", 2},
    {SafetensorsDtype::I32, "I32", 4},
    {SafetensorsDtype::U32, "U32", 4},
    {SafetensorsDtype::F32, "F32", 4},
    {SafetensorsDtype::F64, "F64", 8},
    {SafetensorsDtype::I64, "I64", 8},
    {SafetensorsDtype::U64, "U64", 8},
    {SafetensorsDtype::F8_E4M3, "F8_E4M3", 1},
    {SafetensorsDtype::F8_E5M2, "F8_E5M2", 1},
}};

const DtypeEntry& entry(SafetensorsDtype dtype) noexcept {
  return kDtypes[static_cast<std::size_t>(dtype)];
}

/// Throws `bomf::io_error` "safetensors file '<source>': <args...>".
template <class... Args>
[[noreturn]] void fail(std::string_view source, const Args&... args) {
  throw io_error(detail::concat("safetensors file '", source, "': ", args...));
}

/// numel · element size of a shape, or nothing on overflow.
std::optional<std::uint64_t> byte_length(const std::vector<std::int64_t>& shape,
                                         std::size_t element_size) {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  for (std::int64_t d : shape) {
    if (d == 0) {
      return 0;
    }
  }
  std::uint64_t bytes = element_size;
  for (std::int64_t d : shape) {
    const auto extent = static_cast<std::uint64_t>(d);
    if (bytes > kMax / extent) {
      return std::nullopt;
    }
    bytes *= extent;
  }
  return bytes;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace

std::size_t safetensors_dtype_size(SafetensorsDtype dtype) noexcept {
  return entry(dtype).size;
}

const char* safetensors_dtype_name(SafetensorsDtype dtype) noexcept {
  return entry(dtype).name;
}

std::optional<SafetensorsDtype> safetensors_dtype_from_name(std::string_view name) {
  for (const auto& e : kDtypes) {
    if (name == e.name) {
      return e.dtype;
    }
  }
  return std::nullopt;
}

std::uint64_t SafetensorsTensorInfo::numel() const noexcept {
  std::uint64_t n = 1;
  for (std::int64_t d : shape) {
    n *= static_cast<std::uint64_t>(d);
  }
  return n;
}

const SafetensorsTensorInfo* SafetensorsHeader::find(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors[it->second];
}

void SafetensorsHeader::reindex() {
  index_.clear();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    index_.emplace(tensors[i].name, i);
  }
}

std::uint64_t read_le_u64(const unsigned char* bytes) noexcept {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) {
    value = (value << 8) | bytes[i];
  }
  return value;
}

SafetensorsHeader parse_safetensors_header(const unsigned char* bytes, std::size_t size,
                                           std::string_view source) {
  using json = nlohmann::json;
  if (size < 8) {
    fail(source, "truncated: ", size, " bytes, expected at least 8 (the header length)");
  }
  const std::uint64_t header_length = read_le_u64(bytes);
  if (header_length > kSafetensorsMaxHeaderBytes) {
    fail(source, "header length ", header_length, " exceeds the limit of ",
         kSafetensorsMaxHeaderBytes, " bytes");
  }
  if (header_length > size - 8) {
    fail(source, "header length ", header_length, " is larger than the ", size - 8,
         " bytes after the length field (truncated file?)");
  }
  const char* text = reinterpret_cast<const char*>(bytes + 8);

  // Parse with a callback that rejects duplicate keys and nesting deeper than the format needs
  // (file object → tensor entry → shape array), so hostile input cannot build deep trees.
  constexpr int kMaxDepth = 3;
  std::vector<std::set<std::string>> keys;
  int depth = 0;
  bool too_deep = false;
  std::string duplicate;
  json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        ++depth;
        if (depth > kMaxDepth) {
          too_deep = true;
          return false;
        }
        if (event == json::parse_event_t::object_start) {
          keys.emplace_back();
        }
        return true;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (event == json::parse_event_t::object_end && depth <= kMaxDepth && !keys.empty()) {
          keys.pop_back();
        }
        --depth;
        return depth < kMaxDepth;
      case json::parse_event_t::key:
        if (depth <= kMaxDepth && !keys.empty() && parsed.is_string() &&
            !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        return depth <= kMaxDepth;
      case json::parse_event_t::value:
        return depth <= kMaxDepth;
    }
    return true;
  };
  const json root = json::parse(text, text + header_length, callback, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    fail(source, "the header is not valid JSON");
  }
  if (too_deep) {
    fail(source, "the header nests deeper than ", kMaxDepth, " levels");
  }
  if (!duplicate.empty()) {
    fail(source, "the header has the key '", duplicate, "' more than once");
  }
  if (!root.is_object()) {
    fail(source, "the header is not a JSON object");
  }

  SafetensorsHeader header;
  header.data_offset = 8 + header_length;
  header.data_size = size - header.data_offset;
  for (const auto& [name, value] : root.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) {
        fail(source, "'__metadata__' is not an object");
      }
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) {
          fail(source, "'__metadata__' entry '", key, "' is not a string");
        }
        header.metadata.emplace(key, item.get<std::string>());
      }
      continue;
    }
    if (!value.is_object()) {
      fail(source, "entry '", name, "' is not an object");
    }
    SafetensorsTensorInfo info;
    info.name = name;
    const auto dtype = value.find("dtype");
    if (dtype == value.end() || !dtype->is_string()) {
      fail(source, "tensor '", name, "' has no string 'dtype'");
    }
    const auto parsed_dtype = safetensors_dtype_from_name(dtype->get<std::string>());
    if (!parsed_dtype) {
      fail(source, "tensor '", name, "' has the unknown dtype '", dtype->get<std::string>(), "'");
    }
    info.dtype = *parsed_dtype;
    const auto shape = value.find("shape");
    if (shape == value.end() || !shape->is_array()) {
      fail(source, "tensor '", name, "' has no array 'shape'");
    }
    for (const auto& extent : *shape) {
      if (!extent.is_number_unsigned() ||
          extent.get<std::uint64_t>() >
              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail(source, "tensor '", name, "' has a shape entry ", extent.dump(),
             ", expected a non-negative integer");
      }
      info.shape.push_back(static_cast<std::int64_t>(extent.get<std::uint64_t>()));
    }
    const auto offsets = value.find("data_offsets");
    if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      fail(source, "tensor '", name,
           "' has no 'data_offsets' of two non-negative integers [begin, end]");
    }
    info.begin = (*offsets)[0].get<std::uint64_t>();
    info.end = (*offsets)[1].get<std::uint64_t>();
    if (info.begin > info.end || info.end > header.data_size) {
      fail(source, "tensor '", name, "' has data_offsets [", info.begin, ", ", info.end,
           "] outside the data section of ", header.data_size, " bytes");
    }
    const auto expected = byte_length(info.shape, safetensors_dtype_size(info.dtype));
    if (!expected) {
      fail(source, "tensor '", name, "' has a shape ", shape_string(info.shape),
           " whose byte size overflows");
    }
    if (*expected != info.nbytes()) {
      fail(source, "tensor '", name, "' of dtype ", safetensors_dtype_name(info.dtype),
           " and shape ", shape_string(info.shape), " needs ", *expected,
           " bytes, but its data_offsets span ", info.nbytes());
    }
    header.tensors.push_back(std::move(info));
  }
  std::sort(header.tensors.begin(), header.tensors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  const SafetensorsTensorInfo* previous = nullptr;
  for (const auto& info : header.tensors) {
    if (info.nbytes() == 0) {
      continue;
    }
    if (previous != nullptr && info.begin < previous->end) {
      fail(source, "tensors '", previous->name, "' [", previous->begin, ", ", previous->end,
           ") and '", info.name, "' [", info.begin, ", ", info.end, ") overlap");
    }
    previous = &info;
  }
  header.reindex();
  return header;
}

std::string serialize_safetensors_header(const std::vector<SafetensorsTensorInfo>& tensors,
                                         const std::map<std::string, std::string>& metadata) {
  constexpr const char* kWhere = "bomf::serialize_safetensors_header";
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    root["__metadata__"] = metadata;
  }
  for (const auto& info : tensors) {
    detail::require(info.name != "__metadata__", kWhere,
                    "tensor name '__metadata__' is reserved for the metadata");
    detail::require(!root.contains(info.name), kWhere, "tensor name '", info.name,
                    "' appears more than once");
    for (std::int64_t d : info.shape) {
      detail::require(d >= 0, kWhere, "tensor '", info.name, "' has a negative extent ", d);
    }
    const auto expected = byte_length(info.shape, safetensors_dtype_size(info.dtype));
    detail::require(info.begin <= info.end && expected && *expected == info.nbytes(), kWhere,
                    "tensor '", info.name, "' has data_offsets [", info.begin, ", ", info.end,
                    "], expected a range of ", expected ? *expected : 0, " bytes");
    root[info.name] = {{"dtype", safetensors_dtype_name(info.dtype)},
                       {"shape", info.shape},
                       {"data_offsets", {info.begin, info.end}}};
  }
  std::string text = root.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  std::uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(length & 0xFF);
    length >>= 8;
  }
  return out + text;
}

}  // namespace bomf
