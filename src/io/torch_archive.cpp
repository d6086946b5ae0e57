#include "bomf/io/torch_archive.hpp"

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/api/include/torch/serialize/input-archive.h>
#include <torch/csrc/api/include/torch/serialize/output-archive.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

#include "bomf/core/error.hpp"
#include "io/file_util.hpp"

namespace bomf {

void save_torch_state_dict(const std::string& path, const StateDict& state_dict) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : state_dict) {
    dict.insert(name, tensor);
  }
  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(dict));
  detail::write_file_atomically(path, std::string_view(bytes.data(), bytes.size()),
                                "bomf::save_torch_state_dict");
}

void save_torch_archive(const std::string& path, const StateDict& state_dict) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, tensor] : state_dict) {
    archive.write(name, tensor, /*is_buffer=*/!tensor.is_floating_point());
  }
  std::string bytes;
  try {
    archive.save_to([&bytes](const void* data, size_t size) {
      bytes.append(static_cast<const char*>(data), size);
      return size;
    });
  } catch (const c10::Error& error) {
    throw io_error(detail::concat("bomf::save_torch_archive: cannot serialize '", path,
                                  "': ", error.what_without_backtrace()));
  }
  detail::write_file_atomically(path, bytes, "bomf::save_torch_archive");
}

StateDict load_torch_state_dict(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw io_error(detail::concat("bomf::load_torch_state_dict: cannot open '", path, "'"));
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  std::string pickle_error;
  try {
    const c10::IValue value = torch::jit::pickle_load(bytes);
    if (!value.isGenericDict()) {
      throw io_error(detail::concat("bomf::load_torch_state_dict: '", path, "' holds a ",
                                    value.tagKind(), ", expected a dict of str → tensor"));
    }
    StateDict out;
    for (const auto& item : value.toGenericDict()) {
      if (!item.key().isString() || !item.value().isTensor()) {
        throw io_error(detail::concat("bomf::load_torch_state_dict: '", path,
                                      "' has an entry of types ", item.key().tagKind(), " → ",
                                      item.value().tagKind(), ", expected str → tensor"));
      }
      out.insert(item.key().toStringRef(), item.value().toTensor());
    }
    return out;
  } catch (const c10::Error& error) {
    pickle_error = error.what_without_backtrace();
  }
  // Not a pickle: try the archive format of torch::serialize::OutputArchive.
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    StateDict out;
    for (const auto& key : archive.keys()) {
      at::Tensor tensor;
      if (!archive.try_read(key, tensor) || !tensor.defined()) {
        throw io_error(detail::concat("bomf::load_torch_state_dict: '", path, "' entry '", key,
                                      "' is not a tensor"));
      }
      out.insert(key, tensor);
    }
    return out;
  } catch (const c10::Error& error) {
    throw io_error(detail::concat(
        "bomf::load_torch_state_dict: '", path, "' is neither a pickled dict (", pickle_error,
        ") nor a libtorch archive (", error.what_without_backtrace(), ")"));
  }
}

}  // namespace bomf
