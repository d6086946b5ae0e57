// bomf/io/torch_archive.hpp — state dicts in libtorch's own serialization formats.
#pragma once

#include <string>

#include "bomf/fusion/state_dict.hpp"

namespace bomf {

/// Writes `state_dict` as a pickled `Dict[str, Tensor]` (`torch::pickle_save`, the zip format
/// of `torch.save`), so Python's `torch.load(path)` returns a dict with the same names, order
/// and tensors. Atomic and durable (a unique temporary file in `path`'s directory, fsynced,
/// renamed, directory fsynced). Throws `bomf::io_error` when the file cannot be written.
void save_torch_state_dict(const std::string& path, const StateDict& state_dict);

/// Reads a state dict written by `save_torch_state_dict`, by Python's
/// `torch.save(model.state_dict(), path)` (a dict of str → tensor), or an archive written by
/// `torch::serialize::OutputArchive` / `torch::save(module, path)` (named parameters and
/// buffers). Throws `bomf::io_error` when the file is missing, is neither format, or holds a
/// value that is not a tensor.
[[nodiscard]] StateDict load_torch_state_dict(const std::string& path);

/// Writes `state_dict` with `torch::serialize::OutputArchive` (one named tensor per entry), the
/// format `torch::load(module, path)` reads into a module with those parameter names. Atomic and
/// durable as `save_torch_state_dict`.
void save_torch_archive(const std::string& path, const StateDict& state_dict);

}  // namespace bomf
