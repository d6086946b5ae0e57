#include "bomf/torch/module_state.hpp"

#include <torch/nn/module.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf {
namespace {

/// Calls `visit(name, tensor)` for every parameter and buffer in PyTorch's state_dict order.
template <class Module, class Visit>
void for_each_state(Module& module, const std::string& prefix, Visit&& visit) {
  for (auto& item : module.named_parameters(/*recurse=*/false)) {
    if (item.value().defined()) {
      visit(prefix + item.key(), item.value());
    }
  }
  for (auto& item : module.named_buffers(/*recurse=*/false)) {
    if (item.value().defined()) {
      visit(prefix + item.key(), item.value());
    }
  }
  for (auto& child : module.named_children()) {
    for_each_state(*child.value(), prefix + child.key() + ".", visit);
  }
}

}  // namespace

StateDict snapshot(const torch::nn::Module& module) {
  StateDict out;
  for_each_state(module, "", [&](const std::string& name, const at::Tensor& tensor) {
    out.insert(name, tensor.detach().clone(at::MemoryFormat::Contiguous));
  });
  return out;
}

void load_state_dict(torch::nn::Module& module, const StateDict& state, bool strict) {
  constexpr const char* kWhere = "bomf::load_state_dict";
  std::vector<std::pair<at::Tensor, const at::Tensor*>> copies;
  std::vector<std::string> missing;
  std::size_t matched = 0;
  for_each_state(module, "", [&](const std::string& name, at::Tensor& target) {
    const at::Tensor* source = state.find(name);
    if (source == nullptr) {
      missing.push_back(name);
      return;
    }
    ++matched;
    detail::require(source->sizes() == target.sizes(), kWhere, "entry '", name, "' has shape ",
                    source->sizes(), ", the module's has shape ", target.sizes());
    copies.emplace_back(target, source);
  });
  if (strict) {
    std::string list;
    for (const auto& name : missing) {
      list += (list.empty() ? "'" : ", '") + name + "'";
    }
    detail::require(missing.empty(), kWhere, "the state has no entry for ", list,
                    " of the module (strict)");
    if (matched != state.size()) {
      std::string unexpected;
      std::vector<std::string> names;
      for_each_state(module, "",
                     [&](const std::string& name, const at::Tensor&) { names.push_back(name); });
      for (const auto& [name, tensor] : state) {
        if (std::find(names.begin(), names.end(), name) == names.end()) {
          unexpected += (unexpected.empty() ? "'" : ", '") + name + "'";
        }
      }
      detail::throw_invalid_argument(kWhere, "the state has entries the module lacks: ", unexpected,
                                     " (strict)");
    }
  }
  const at::NoGradGuard no_grad;
  for (auto& [target, source] : copies) {
    target.copy_(*source);
  }
}

}  // namespace bomf
