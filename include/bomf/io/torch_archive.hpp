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

/// Reads a state dict from a file written by Python's `torch.save` (the zip format, PyTorch ≥ 1.6)
/// holding a `collections.OrderedDict` — what `model.state_dict()` returns, nested modules'
/// dotted names included — or a plain `dict` of str → tensor (parameters included), by
/// `save_torch_state_dict`, or by `torch::serialize::OutputArchive` / `torch::save(module,
/// path)` (named parameters and buffers). Entries keep the file's order; dtypes f64, f32, f16,
/// bf16, i64, i32, i16, i8, u8 and bool; tensors that shared a storage in Python share it here
/// (as `torch.load` gives them), others own their memory. The pickle is interpreted without
/// executing anything (see src/io/torch_pickle.hpp). Throws `bomf::io_error` when the file is
/// missing or not a regular file, is in the legacy non-zip format
/// (`_use_new_zipfile_serialization=False`; the message says so and how to convert it), is
/// neither format, is malformed, or holds anything but a dict of str → tensor (naming the entry
/// and what it holds).
[[nodiscard]] StateDict load_torch_state_dict(const std::string& path);

/// Writes `state_dict` with `torch::serialize::OutputArchive` (one named tensor per entry), the
/// format `torch::load(module, path)` reads into a module with those parameter names. Atomic and
/// durable as `save_torch_state_dict`.
void save_torch_archive(const std::string& path, const StateDict& state_dict);

}  // namespace bomf
