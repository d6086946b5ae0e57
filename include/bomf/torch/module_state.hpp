// bomf/torch/module_state.hpp — a libtorch module's state dict: snapshot and restore.
//
// The members of a fusion search are the model's weights at several training steps. A libtorch
// training loop keeps them with `snapshot(model)` (the tutorial's `members.push_back(...)`), and
// puts fused weights back with `load_state_dict(model, fused)`.
#pragma once

#include "bomf/fusion/state_dict.hpp"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace bomf {

/// A deep copy of `module`'s parameters and buffers, named and ordered as PyTorch's
/// `module.state_dict()` names and orders them: module by module, depth first in registration
/// order, each module's own parameters, then its own buffers, then its children's, with dotted
/// paths ("encoder.layers.1.weight", "norm.running_mean", "norm.num_batches_tracked"). Tensors
/// are detached, contiguous copies on the module's device (they do not change when training
/// continues); call `.to(at::kCPU)` on them before CPU fusion if the module is on a GPU. Undefined
/// (unset) parameters are left out. Cost: one copy of the model.
[[nodiscard]] StateDict snapshot(const torch::nn::Module& module);

/// Copies `state` into `module`'s parameters and buffers in place (no gradient is recorded;
/// values are converted to each target's dtype and device, as PyTorch's `load_state_dict`
/// does). With `strict` (default), every parameter and buffer of the module must be in
/// `state` and every entry of `state` must belong to the module; without it, only the common
/// names are copied. Throws `bomf::invalid_argument` naming the entries that are missing or
/// unexpected (strict), or an entry whose shape differs from the module's, before anything is
/// copied.
void load_state_dict(torch::nn::Module& module, const StateDict& state, bool strict = true);

}  // namespace bomf
