#include "bomf/io/safetensors_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "bomf/core/error.hpp"

namespace bomf {
namespace {

void write_all(int fd, const void* data, std::size_t bytes, std::uint64_t offset,
               const std::string& path) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd, p, bytes, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw io_error(detail::concat("bomf::SafetensorsWriter: writing '", path,
                                    "' failed: ", std::strerror(errno)));
    }
    p += n;
    bytes -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<SafetensorsTensorInfo> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), temp_path_(path_ + ".tmp"), tensors_(std::move(tensors)) {
  std::uint64_t offset = 0;
  for (auto& info : tensors_) {
    info.begin = offset;
    info.end = offset + info.numel() * safetensors_dtype_size(info.dtype);
    offset = info.end;
  }
  const std::string header = serialize_safetensors_header(tensors_, metadata);
  data_offset_ = header.size();
  written_.assign(tensors_.size(), false);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw io_error(detail::concat("bomf::SafetensorsWriter: cannot create '", temp_path_,
                                  "': ", std::strerror(errno)));
  }
  try {
    write_all(fd_, header.data(), header.size(), 0, temp_path_);
    if (::ftruncate(fd_, static_cast<off_t>(data_offset_ + offset)) != 0) {
      throw io_error(detail::concat("bomf::SafetensorsWriter: cannot size '", temp_path_,
                                    "': ", std::strerror(errno)));
    }
  } catch (...) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
    fd_ = -1;
    throw;
  }
}

SafetensorsWriter::~SafetensorsWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

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
  detail::require(fd_ >= 0, kWhere, "the writer for '", path_, "' is already finished");
  detail::require(index < tensors_.size(), kWhere, "index ", index, " is out of range for ",
                  tensors_.size(), " tensors");
  const auto& info = tensors_[index];
  detail::require(offset <= info.nbytes() && bytes <= info.nbytes() - offset, kWhere, "bytes [",
                  offset, ", ", offset + bytes, ") exceed tensor '", info.name, "' of ",
                  info.nbytes(), " bytes");
  write_all(fd_, data, bytes, data_offset_ + info.begin + offset, temp_path_);
  written_[index] = true;
}

void SafetensorsWriter::finish() {
  detail::require(fd_ >= 0, "bomf::SafetensorsWriter::finish", "the writer for '", path_,
                  "' is already finished");
  for (std::size_t i = 0; i < tensors_.size(); ++i) {
    if (!written_[i] && tensors_[i].nbytes() > 0) {
      throw io_error(detail::concat("bomf::SafetensorsWriter::finish: tensor '", tensors_[i].name,
                                    "' of '", path_, "' was never written"));
    }
  }
  const int fd = std::exchange(fd_, -1);
  // Durable before it becomes visible: a crash after the rename never leaves a file whose
  // data blocks were not yet written.
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp_path_.c_str());
    throw io_error(detail::concat("bomf::SafetensorsWriter: flushing '", temp_path_,
                                  "' to disk failed: ", std::strerror(error)));
  }
  if (::close(fd) != 0) {
    ::unlink(temp_path_.c_str());
    throw io_error(detail::concat("bomf::SafetensorsWriter: closing '", temp_path_,
                                  "' failed: ", std::strerror(errno)));
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp_path_.c_str());
    throw io_error(detail::concat("bomf::SafetensorsWriter: cannot rename '", temp_path_, "' to '",
                                  path_, "': ", std::strerror(error)));
  }
}

}  // namespace bomf
