// Parser and serializer for safetensors headers; libtorch-free so that the fuzz target and the
// sanitizer test build need only nlohmann-json.
#include "bomf/io/safetensors_header.hpp"

#include <algorithm>
#include <array>
#include <cstring>
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

std::string byte_string(unsigned char byte) {
  constexpr const char* kHex = "0123456789ABCDEF";
  std::string out = {'0', 'x', kHex[byte >> 4], kHex[byte & 0xF]};
  if (byte >= 0x20 && byte < 0x7F) {
    out += detail::concat(" ('", static_cast<char>(byte), "')");
  }
  return out;
}

/// `value` as JSON text; throws `bomf::invalid_argument` naming `what` for invalid UTF-8.
template <class Json>
std::string json_text(const Json& value, const char* what) {
  try {
    return value.dump();
  } catch (const nlohmann::json::type_error& e) {
    throw invalid_argument(
        detail::concat("bomf::serialize_safetensors_header: ", what, " ",
                       value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       " is not valid UTF-8 (", e.what(), ")"));
  }
}

/// SAX handler that builds the header's JSON tree, refusing what the format never needs:
/// nesting deeper than file object → tensor entry → shape array, and a key repeated within an
/// object (both stop the parse at once, so hostile input builds nothing large). Linear in the
/// header size; nlohmann's callback parser rescans the parent object after each child object
/// (quadratic in the number of tensors).
class BoundedJsonBuilder final : public nlohmann::json_sax<nlohmann::json> {
 public:
  static constexpr std::size_t kMaxDepth = 3;

  nlohmann::json root;
  bool too_deep = false;
  std::string duplicate;     ///< the first repeated key, if any
  std::string syntax_error;  ///< nlohmann's description of the first syntax error, if any

  bool null() override { return add(nullptr); }
  bool boolean(bool value) override { return add(value); }
  bool number_integer(number_integer_t value) override { return add(value); }
  bool number_unsigned(number_unsigned_t value) override { return add(value); }
  bool number_float(number_float_t value, const string_t& /*text*/) override { return add(value); }
  bool string(string_t& value) override { return add(std::move(value)); }
  bool binary(binary_t& value) override { return add(std::move(value)); }
  bool start_object(std::size_t /*elements*/) override { return open(nlohmann::json::object()); }
  bool start_array(std::size_t /*elements*/) override { return open(nlohmann::json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& name) override {
    if (open_.back()->contains(name)) {
      duplicate = name;
      return false;
    }
    key_ = std::move(name);
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::json::exception& error) override {
    syntax_error = error.what();
    return false;
  }

 private:
  std::vector<nlohmann::json*> open_;  ///< the containers being filled, outermost first
  std::string key_;                    ///< the key of the next value in an object

  /// Places `value` in the innermost open container (or as the root) and returns it. Addresses
  /// stay valid while a container is open: only its own children are added meanwhile.
  nlohmann::json* place(nlohmann::json&& value) {
    if (open_.empty()) {
      root = std::move(value);
      return &root;
    }
    nlohmann::json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    return &(parent[std::move(key_)] = std::move(value));
  }
  bool add(nlohmann::json value) {
    place(std::move(value));
    return true;
  }
  bool open(nlohmann::json container) {
    if (open_.size() == kMaxDepth) {
      too_deep = true;
      return false;
    }
    open_.push_back(place(std::move(container)));
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }
};

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
  // The format's header is a JSON object, starting with '{' (no byte-order mark, no leading
  // whitespace) and padded with spaces only; a NUL byte anywhere is refused with its position.
  if (header_length == 0 || text[0] != '{') {
    fail(source, "the header is not a JSON object: ",
         header_length == 0 ? std::string("it is empty")
                            : detail::concat("it begins with byte ", byte_string(bytes[8])),
         ", expected '{'");
  }
  if (const void* nul = std::memchr(text, '\0', header_length)) {
    fail(source, "the header has a NUL byte at offset ", static_cast<const char*>(nul) - text + 8,
         " of the file");
  }
  BoundedJsonBuilder builder;
  const bool parsed = nlohmann::json::sax_parse(text, text + header_length, &builder,
                                                nlohmann::json::input_format_t::json,
                                                /*strict=*/true);
  if (builder.too_deep) {
    fail(source, "the header nests deeper than ", BoundedJsonBuilder::kMaxDepth, " levels");
  }
  if (!builder.duplicate.empty()) {
    fail(source, "the header has the key '", builder.duplicate, "' more than once");
  }
  if (!parsed) {
    fail(source, "the header is not valid JSON (", builder.syntax_error, ")");
  }
  const nlohmann::json& root = builder.root;
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
  // Written entry by entry (an ordered_json object finds keys by linear search: quadratic in
  // the number of tensors); names are JSON-escaped by nlohmann.
  std::string text = "{";
  if (!metadata.empty()) {
    text += "\"__metadata__\":" + json_text(nlohmann::json(metadata), "the metadata");
  }
  std::set<std::string_view> names;
  for (const auto& info : tensors) {
    detail::require(info.name != "__metadata__", kWhere,
                    "tensor name '__metadata__' is reserved for the metadata");
    detail::require(names.insert(info.name).second, kWhere, "tensor name '", info.name,
                    "' appears more than once");
    for (std::int64_t d : info.shape) {
      detail::require(d >= 0, kWhere, "tensor '", info.name, "' has a negative extent ", d);
    }
    const auto expected = byte_length(info.shape, safetensors_dtype_size(info.dtype));
    detail::require(info.begin <= info.end && expected && *expected == info.nbytes(), kWhere,
                    "tensor '", info.name, "' has data_offsets [", info.begin, ", ", info.end,
                    "], expected a range of ", expected ? *expected : 0, " bytes");
    const nlohmann::ordered_json entry = {{"dtype", safetensors_dtype_name(info.dtype)},
                                          {"shape", info.shape},
                                          {"data_offsets", {info.begin, info.end}}};
    text += text.size() > 1 ? "," : "";
    text += json_text(nlohmann::json(info.name), "tensor name") + ":" + entry.dump();
  }
  text += "}";
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
