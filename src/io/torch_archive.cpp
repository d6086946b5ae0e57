#include "bomf/io/torch_archive.hpp"

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/api/include/torch/serialize/input-archive.h>
#include <torch/csrc/api/include/torch/serialize/output-archive.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/io/mapped_file.hpp"
#include "io/file_util.hpp"
#include "io/torch_pickle.hpp"

namespace bomf {
namespace {

constexpr const char* kLoad = "bomf::load_torch_state_dict";

/// The zip reader's view of a memory-mapped file.
class MappedReadAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit MappedReadAdapter(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}
  size_t size() const override { return file_->size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= file_->size()) {
      return 0;
    }
    const size_t count = std::min<uint64_t>(n, file_->size() - pos);
    std::memcpy(buf, file_->data() + pos, count);
    return count;
  }

 private:
  std::shared_ptr<const MappedFile> file_;
};

bool starts_with(const MappedFile& file, std::string_view prefix) {
  return file.size() >= prefix.size() &&
         std::memcmp(file.data(), prefix.data(), prefix.size()) == 0;
}

/// The first bytes of the legacy (non-zip) torch.save format: pickle protocol 2, then the
/// LONG1 magic number 0x1950a86a20f9469cfc6c.
constexpr std::string_view kLegacyMagic("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",
                                        14);

at::Tensor storage_tensor(caffe2::serialize::PyTorchStreamReader& reader, const std::string& path,
                          const std::string& key, at::ScalarType dtype, std::int64_t numel) {
  if (key.empty() || key.find('/') != std::string::npos || key == "..") {
    throw io_error(detail::concat(kLoad, ": '", path, "' names the storage '", key,
                                  "', expected a plain record name"));
  }
  const std::string record = "data/" + key;
  if (!reader.hasRecord(record)) {
    throw io_error(detail::concat(kLoad, ": '", path, "' has no record '", record,
                                  "' for a storage its pickle uses"));
  }
  auto [data, bytes] = reader.getRecord(record);
  const auto needed = static_cast<std::uint64_t>(numel) * c10::elementSize(dtype);
  if (bytes < needed) {
    throw io_error(detail::concat(kLoad, ": '", path, "' record '", record, "' has ", bytes,
                                  " bytes, its storage needs ", needed));
  }
  const auto options = at::TensorOptions().dtype(dtype);
  if (numel == 0) {
    return at::empty({0}, options);
  }
  auto owner = std::make_shared<at::DataPtr>(std::move(data));
  void* pointer = owner->get();
  return at::from_blob(
      pointer, {numel}, [owner](void*) mutable { owner.reset(); }, options);
}

StateDict load_libtorch_archive(const std::shared_ptr<const MappedFile>& file,
                                const std::string& path) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(reinterpret_cast<const char*>(file->data()), file->size());
    StateDict out;
    for (const auto& key : archive.keys()) {
      at::Tensor tensor;
      if (!archive.try_read(key, tensor) || !tensor.defined()) {
        throw io_error(detail::concat(kLoad, ": '", path, "' entry '", key, "' is not a tensor"));
      }
      out.insert(key, tensor);
    }
    return out;
  } catch (const c10::Error& error) {
    throw io_error(detail::concat(kLoad, ": '", path,
                                  "' is a TorchScript archive that "
                                  "torch::serialize::InputArchive cannot read: ",
                                  error.what_without_backtrace()));
  }
}

}  // namespace

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
  const auto file = std::make_shared<const MappedFile>(path);  // refuses FIFOs, directories
  if (!starts_with(*file, "PK\x03\x04")) {
    if (starts_with(*file, kLegacyMagic)) {
      throw io_error(detail::concat(
          kLoad, ": '", path,
          "' is in the legacy torch.save format (written with "
          "_use_new_zipfile_serialization=False, or by PyTorch < 1.6), which bomf does not read; "
          "rewrite it in Python with torch.save(torch.load(old), new)"));
    }
    throw io_error(detail::concat(kLoad, ": '", path,
                                  "' is not a torch.save file (not a zip archive, nor the legacy "
                                  "torch.save format)"));
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(std::make_shared<MappedReadAdapter>(file));
    if (!reader.hasRecord("data.pkl")) {
      throw io_error(detail::concat(kLoad, ": '", path,
                                    "' is a zip archive without data.pkl, not a torch.save file"));
    }
    auto [pickle, size] = reader.getRecord("data.pkl");
    const std::string_view bytes(static_cast<const char*>(pickle.get()), size);
    detail::UnpickledStateDict result = detail::unpickle_state_dict(
        bytes,
        [&](const std::string& key, at::ScalarType dtype, std::int64_t numel) {
          return storage_tensor(reader, path, key, dtype, numel);
        },
        path);
    if (result.state_dict) {
      return std::move(*result.state_dict);
    }
    // torch::serialize::OutputArchive and torch::save(module) write a TorchScript module.
    if (reader.hasRecord("constants.pkl")) {
      return load_libtorch_archive(file, path);
    }
    throw io_error(detail::concat(kLoad, ": '", path, "' holds a ", result.top_level_type,
                                  ", expected a dict of str → tensor (a state dict)"));
  } catch (const c10::Error& error) {
    throw io_error(detail::concat(kLoad, ": '", path, "' is not a readable torch.save archive: ",
                                  error.what_without_backtrace()));
  }
}

}  // namespace bomf
