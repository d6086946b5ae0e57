#include "bomf/io/safetensors_writer.hpp"

#include <utility>

#include "bomf/core/error.hpp"
#include "io/file_util.hpp"

namespace bomf {

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<SafetensorsTensorInfo> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), tensors_(std::move(tensors)) {
  std::uint64_t offset = 0;
  for (auto& info : tensors_) {
    info.begin = offset;
    info.end = offset + info.numel() * safetensors_dtype_size(info.dtype);
    offset = info.end;
  }
  const std::string header = serialize_safetensors_header(tensors_, metadata);
  data_offset_ = header.size();
  written_.assign(tensors_.size(), false);
  file_ = std::make_unique<detail::AtomicFile>(path_, "bomf::SafetensorsWriter");
  file_->append(header);
  file_->resize(data_offset_ + offset);
}

SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::write(std::size_t index, const void* data, std::size_t bytes) {
  detail::require(index < tensors_.size(), "bomf::SafetensorsWriter::write", "index ", index,
                  " is out of range for ", tensors_.size(), " tensors");
  detail::require(bytes == tensors_[index].nbytes(), "bomf::SafetensorsWriter::write", "tensor '",
                  tensors_[index].name, "' needs ", tensors_[index].nbytes(), " bytes, got ",
                  bytes);
  write_part(index, 0, data, bytes);
}

void SafetensorsWriter::write_part(std::size_t index, std::size_t offset, const void* data,
                                   std::size_t bytes) {
  constexpr const char* kWhere = "bomf::SafetensorsWriter::write_part";
  detail::require(file_->is_open(), kWhere, "the writer for '", path_, "' is already finished");
  detail::require(index < tensors_.size(), kWhere, "index ", index, " is out of range for ",
                  tensors_.size(), " tensors");
  const auto& info = tensors_[index];
  detail::require(offset <= info.nbytes() && bytes <= info.nbytes() - offset, kWhere, "bytes [",
                  offset, ", ", offset + bytes, ") exceed tensor '", info.name, "' of ",
                  info.nbytes(), " bytes");
  file_->write_at(data, bytes, data_offset_ + info.begin + offset);
  written_[index] = true;
}

void SafetensorsWriter::finish() {
  detail::require(file_->is_open(), "bomf::SafetensorsWriter::finish", "the writer for '", path_,
                  "' is already finished");
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    if (!written_[i] && tensors_[i].nbytes() > 0) {
      throw io_error(detail::concat("bomf::SafetensorsWriter::finish: tensor '", tensors_[i].name,
                                    "' of '", path_, "' was never written"));
    }
  }
  file_->commit();
}

}  // namespace bomf
