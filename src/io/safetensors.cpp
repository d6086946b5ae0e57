#include "bomf/io/safetensors.hpp"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "bomf/core/error.hpp"
#include "bomf/io/safetensors_writer.hpp"
#include "io/file_util.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bomf's safetensors I/O assumes a little-endian host"
#endif

namespace bomf {
namespace {

std::vector<SafetensorsTensorInfo> layout_of(const StateDict& state_dict) {
  std::vector<SafetensorsTensorInfo> infos;
  for (const auto& [name, tensor] : state_dict) {
    detail::require(tensor.device().is_cpu(), "bomf::save_safetensors", "tensor '", name,
                    "' is on ", tensor.device(), ", expected the CPU");
    SafetensorsTensorInfo info;
    info.name = name;
    info.dtype = safetensors_dtype_of(tensor.scalar_type());
    info.shape.assign(tensor.sizes().begin(), tensor.sizes().end());
    infos.push_back(std::move(info));
  }
  return infos;
}

}  // namespace

at::ScalarType scalar_type_of(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::BOOL:
      return at::kBool;
    case SafetensorsDtype::U8:
      return at::kByte;
    case SafetensorsDtype::I8:
      return at::kChar;
    case SafetensorsDtype::I16:
      return at::kShort;
    case SafetensorsDtype::F16:
      return at::kHalf;
    case SafetensorsDtype::BF16:
      return at::kBFloat16;
    case SafetensorsDtype::I32:
      return at::kInt;
    case SafetensorsDtype::F32:
      return at::kFloat;
    case SafetensorsDtype::F64:
      return at::kDouble;
    case SafetensorsDtype::I64:
      return at::kLong;
    default:
      throw io_error(detail::concat("bomf::scalar_type_of: safetensors dtype ",
                                    safetensors_dtype_name(dtype),
                                    " has no libtorch 1.13 equivalent"));
  }
}

SafetensorsDtype safetensors_dtype_of(at::ScalarType type) {
  switch (type) {
    case at::kBool:
      return SafetensorsDtype::BOOL;
    case at::kByte:
      return SafetensorsDtype::U8;
    case at::kChar:
      return SafetensorsDtype::I8;
    case at::kShort:
      return SafetensorsDtype::I16;
    case at::kHalf:
      return SafetensorsDtype::F16;
    case at::kBFloat16:
      return SafetensorsDtype::BF16;
    case at::kInt:
      return SafetensorsDtype::I32;
    case at::kFloat:
      return SafetensorsDtype::F32;
    case at::kDouble:
      return SafetensorsDtype::F64;
    case at::kLong:
      return SafetensorsDtype::I64;
    default:
      detail::throw_invalid_argument("bomf::safetensors_dtype_of", "dtype ", type,
                                     " cannot be stored in a safetensors file");
  }
}

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::string& path) {
  std::vector<std::string> files;
  std::map<std::string, std::string> weight_map;  // tensor → shard file (index only)
  const bool sharded = detail::ends_with(path, ".json");
  if (sharded) {
    const std::string text = detail::read_regular_file(path, "bomf::SafetensorsCheckpoint");
    const auto index = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    const auto fail = [&](const std::string& what) {
      throw io_error(detail::concat("safetensors index '", path, "': ", what));
    };
    if (index.is_discarded() || !index.is_object()) {
      fail("not a JSON object");
    }
    const auto map = index.find("weight_map");
    if (map == index.end() || !map->is_object()) {
      fail("no 'weight_map' object");
    }
    std::set<std::string> unique_files;
    for (const auto& [name, file] : map->items()) {
      if (!file.is_string()) {
        fail(detail::concat("'weight_map' entry '", name, "' is not a string"));
      }
      const auto shard = file.get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
        fail(detail::concat("'weight_map' entry '", name, "' names the shard '", shard,
                            "', expected a plain file name in the index's directory"));
      }
      weight_map.emplace(name, shard);
      unique_files.insert(shard);
    }
    files.assign(unique_files.begin(), unique_files.end());
  } else {
    files.push_back(path);
  }
  const std::string directory = detail::directory_of(path);
  std::map<std::string, std::size_t> shard_of_file;
  for (const auto& file : files) {
    const std::string full = sharded ? directory + "/" + file : file;
    auto mapped = std::make_shared<MappedFile>(full);
    SafetensorsHeader header = parse_safetensors_header(mapped->data(), mapped->size(), full);
    shard_of_file.emplace(file, shards_.size());
    shards_.push_back(Shard{std::move(mapped), std::move(header)});
  }
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    for (const auto& info : shards_[s].header.tensors) {
      if (sharded) {
        const auto it = weight_map.find(info.name);
        if (it == weight_map.end() || shard_of_file.at(it->second) != s) {
          continue;  // not mapped to this shard: ignored, as the reference loader does
        }
      }
      names_.push_back(info.name);
      locations_.emplace(info.name, Location{s, &info});
    }
  }
  for (const auto& [name, file] : weight_map) {
    if (locations_.find(name) == locations_.end()) {
      throw io_error(detail::concat("safetensors index '", path, "': tensor '", name,
                                    "' is mapped to '", file, "', which does not contain it"));
    }
  }
}

const std::map<std::string, std::string>& SafetensorsCheckpoint::metadata() const {
  static const std::map<std::string, std::string> kNone;
  return shards_.empty() ? kNone : shards_.front().header.metadata;  // an empty weight_map
}

std::vector<std::string> SafetensorsCheckpoint::files() const {
  std::vector<std::string> out;
  out.reserve(shards_.size());
  for (const auto& shard : shards_) {
    out.push_back(shard.file->path());
  }
  return out;
}

bool SafetensorsCheckpoint::contains(std::string_view name) const {
  return locations_.find(name) != locations_.end();
}

const SafetensorsCheckpoint::Location& SafetensorsCheckpoint::locate(std::string_view name) const {
  const auto it = locations_.find(name);
  detail::require(it != locations_.end(), "bomf::SafetensorsCheckpoint", "no tensor named '", name,
                  "'");
  return it->second;
}

const SafetensorsTensorInfo& SafetensorsCheckpoint::info(std::string_view name) const {
  return *locate(name).info;
}

const unsigned char* SafetensorsCheckpoint::data(std::string_view name) const {
  const Location& where = locate(name);
  const Shard& shard = shards_[where.shard];
  return shard.file->data() + shard.header.data_offset + where.info->begin;
}

at::Tensor SafetensorsCheckpoint::tensor(std::string_view name, bool copy) const {
  const Location& where = locate(name);
  const SafetensorsTensorInfo& info = *where.info;
  const at::ScalarType type = scalar_type_of(info.dtype);
  const auto options = at::TensorOptions().dtype(type);
  unsigned char* bytes =
      shards_[where.shard].file->data() + shards_[where.shard].header.data_offset + info.begin;
  const bool aligned =
      reinterpret_cast<std::uintptr_t>(bytes) % safetensors_dtype_size(info.dtype) == 0;
  if (!copy && aligned && info.nbytes() > 0) {
    std::shared_ptr<MappedFile> keep = shards_[where.shard].file;
    return at::from_blob(
        bytes, info.shape, [keep](void*) mutable { keep.reset(); }, options);
  }
  at::Tensor out = at::empty(info.shape, options);
  if (info.nbytes() > 0) {
    std::memcpy(out.data_ptr(), bytes, info.nbytes());
  }
  return out;
}

StateDict SafetensorsCheckpoint::state_dict(bool copy) const {
  StateDict out;
  for (const auto& name : names_) {
    out.insert(name, tensor(name, copy));
  }
  return out;
}

void SafetensorsCheckpoint::release(std::string_view name) const {
  const Location& where = locate(name);
  const Shard& shard = shards_[where.shard];
  shard.file->release(shard.header.data_offset + where.info->begin, where.info->nbytes());
}

void SafetensorsCheckpoint::release(std::string_view name, std::uint64_t offset,
                                    std::uint64_t length) const {
  const Location& where = locate(name);
  const Shard& shard = shards_[where.shard];
  const std::uint64_t size = where.info->nbytes();
  if (offset < size) {
    shard.file->release(shard.header.data_offset + where.info->begin + offset,
                        std::min(length, size - offset));
  }
}

StateDict load_safetensors(const std::string& path) {
  return SafetensorsCheckpoint(path).state_dict(/*copy=*/true);
}

void save_safetensors(const std::string& path, const StateDict& state_dict,
                      const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter writer(path, layout_of(state_dict), metadata);
  for (std::size_t k = 0; k < state_dict.size(); ++k) {
    const at::Tensor data = state_dict[k].second.contiguous();
    writer.write(k, data.data_ptr(), data.nbytes());
  }
  writer.finish();
}

std::string save_sharded_safetensors(const std::string& directory, const StateDict& state_dict,
                                     std::uint64_t max_shard_bytes, const std::string& stem,
                                     const std::map<std::string, std::string>& metadata) {
  detail::require(max_shard_bytes > 0, "bomf::save_sharded_safetensors",
                  "argument 'max_shard_bytes' is 0, expected a positive size");
  // Greedy packing of consecutive tensors.
  std::vector<std::vector<std::size_t>> shards;
  std::uint64_t current = 0;
  std::uint64_t total = 0;
  for (std::size_t k = 0; k < state_dict.size(); ++k) {
    const std::uint64_t bytes = state_dict[k].second.nbytes();
    if (shards.empty() || (current + bytes > max_shard_bytes && current > 0)) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(k);
    current += bytes;
    total += bytes;
  }
  if (shards.empty()) {
    shards.emplace_back();
  }
  // Sorted maps (ordered_json finds keys by linear search: quadratic in the tensor count);
  // "metadata" still precedes "weight_map" in the index.
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t s = 0; s < shards.size(); ++s) {
    std::ostringstream file;
    file << stem << '-' << std::setw(5) << std::setfill('0') << s + 1 << "-of-" << std::setw(5)
         << std::setfill('0') << shards.size() << ".safetensors";
    StateDict part;
    for (std::size_t k : shards[s]) {
      part.insert(state_dict[k].first, state_dict[k].second);
      weight_map[state_dict[k].first] = file.str();
    }
    save_safetensors(directory + "/" + file.str(), part, metadata);
  }
  nlohmann::json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = std::move(weight_map);
  const std::string index_path = directory + "/" + stem + ".safetensors.index.json";
  detail::write_file_atomically(index_path, index.dump(2) + '\n', "bomf::save_sharded_safetensors");
  return index_path;
}

}  // namespace bomf
