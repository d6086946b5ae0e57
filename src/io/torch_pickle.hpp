// io/torch_pickle.hpp — internal: the subset of Python's pickle that `torch.save` writes, read
// without executing anything.
//
// `torch.save(obj, f)` (PyTorch ≥ 1.6) writes a zip archive `<name>/data.pkl`,
// `<name>/data/<key>`, `<name>/version`. data.pkl is a pickle (protocol 2 unless the caller
// asks for another) in which every tensor is `torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks)` and every storage a persistent
// id `('storage', torch.<T>Storage, key, location, numel)` whose bytes are the record
// `data/<key>`. A module's `state_dict()` is a `collections.OrderedDict`, pickled as
// `OrderedDict()` (REDUCE of the class on an empty tuple) followed by SETITEMS, then a BUILD
// that sets its `_metadata` attribute. libtorch 1.13's own unpickler turns that OrderedDict
// into None (it only expects one as a tensor's empty backward hooks), which is why bomf reads
// the pickle itself.
//
// The reader interprets opcodes of protocols 2–5 (the text opcodes of protocols 0 and 1 are
// refused by name) on a value stack; GLOBAL only names a callable, which is never imported:
// REDUCE applies the handful of callables above (OrderedDict, the tensor and parameter
// rebuilders, TorchScript's type tags and list builders) and turns any other call into an
// opaque object that is reported by its type name if it is where a tensor should be.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "bomf/fusion/state_dict.hpp"

namespace bomf::detail {

/// Returns the storage `key` as a 1-D tensor of `dtype` with at least `numel` elements; throws
/// `bomf::io_error` when the archive has no such record or it is too short.
using TorchStorageLoader =
    std::function<at::Tensor(const std::string& key, at::ScalarType dtype, std::int64_t numel)>;

/// What `unpickle_state_dict` found.
struct UnpickledStateDict {
  /// The state dict, when the pickled object is a dict (plain or OrderedDict) of str → tensor.
  std::optional<StateDict> state_dict;
  /// Otherwise the Python type of the top-level object ("list", "__torch__.Module", ...).
  std::string top_level_type;
};

/// Interprets the pickle `bytes` (data.pkl of a torch.save archive). Tensors view the storages
/// that `load` returns (tensors that shared a storage in Python share it here, as torch.load
/// gives them). Throws `bomf::io_error` naming `source` for a malformed pickle (unknown or
/// text opcode, stack underflow, missing MARK, truncated data, bad memo index), a tensor whose
/// size/stride/offset reach outside its storage, a storage type bomf cannot hold (complex,
/// quantized), and for a dict whose keys are not all strings or whose values are not all
/// tensors (naming the entry and its type). Cost: linear in the pickle's length.
[[nodiscard]] UnpickledStateDict unpickle_state_dict(std::string_view bytes,
                                                     const TorchStorageLoader& load,
                                                     const std::string& source);

}  // namespace bomf::detail
