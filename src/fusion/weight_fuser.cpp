#include "bomf/fusion/weight_fuser.hpp"

#include <ATen/ops/empty.h>

#include <cmath>
#include <cstring>
#include <utility>

#include "bomf/core/error.hpp"
#include "fusion/torch_dtype.hpp"

namespace bomf {
namespace {

constexpr const char* kWhere = "bomf::WeightFuser";

bool is_fused_type(at::ScalarType type) {
  return detail::fusion_dtype_of(type).has_value();
}

}  // namespace

WeightFuser::WeightFuser(std::vector<StateDict> members, FusionOptions options)
    : members_(std::move(members)), options_(options) {
  const std::size_t n = members_.size();
  detail::require(n >= 1, kWhere, "argument 'members' is empty, expected at least one state dict");
  detail::require(options_.copy_non_floating_from < n, kWhere,
                  "option 'copy_non_floating_from' is ", options_.copy_non_floating_from,
                  ", expected an index below the number of members ", n);
  if (options_.output_dtype) {
    detail::require(is_fused_type(*options_.output_dtype), kWhere, "option 'output_dtype' is ",
                    *options_.output_dtype, ", expected Float, BFloat16, Half or Double");
  }
  const StateDict& first = members_[0];
  for (std::size_t m = 0; m < n; ++m) {
    StateDict& member = members_[m];
    detail::require(member.size() == first.size(), kWhere, "member ", m, " has ", member.size(),
                    " tensors, member 0 has ", first.size());
    for (std::size_t k = 0; k < member.size(); ++k) {
      const auto& [name, tensor] = member[k];
      detail::require(first.contains(name), kWhere, "member ", m, " has the tensor '", name,
                      "' that member 0 lacks");
      detail::require(tensor.device().is_cpu(), kWhere, "tensor '", name, "' of member ", m,
                      " is on ", tensor.device(), ", expected the CPU");
      detail::require(!tensor.is_complex(), kWhere, "tensor '", name, "' of member ", m,
                      " is complex (", tensor.scalar_type(), "), which fusion does not support");
      if (!tensor.is_contiguous()) {
        member.tensor(k) = tensor.contiguous();
      }
    }
  }
  entries_.resize(first.size());
  for (std::size_t k = 0; k < first.size(); ++k) {
    const auto& [name, reference] = first[k];
    Entry& entry = entries_[k];
    entry.floating = is_fused_type(reference.scalar_type());
    entry.out_dtype =
        entry.floating && options_.output_dtype ? *options_.output_dtype : reference.scalar_type();
    entry.first_pointer = pointers_.size();
    for (std::size_t m = 0; m < n; ++m) {
      const at::Tensor* tensor = members_[m].find(name);
      detail::require(tensor != nullptr, kWhere, "member ", m, " has no tensor '", name,
                      "' (present in member 0)");
      detail::require(
          tensor->sizes() == reference.sizes() && tensor->scalar_type() == reference.scalar_type(),
          kWhere, "tensor '", name, "' has ", detail::describe(reference), " in member 0 but ",
          detail::describe(*tensor), " in member ", m);
      if (entry.floating) {
        pointers_.push_back(tensor->data_ptr());
      }
    }
    if (entry.floating) {
      fused_elements_ += static_cast<std::size_t>(reference.numel());
    } else {
      entry.source = members_[options_.copy_non_floating_from].at(name).data_ptr();
    }
  }
}

void WeightFuser::check_delta(const Eigen::Ref<const Eigen::VectorXd>& delta) const {
  detail::check_fusion_delta(delta, members_.size(), options_.require_simplex,
                             "bomf::WeightFuser::fuse");
}

StateDict WeightFuser::make_output() const {
  StateDict output;
  const StateDict& first = members_[0];
  const StateDict& source = members_[options_.copy_non_floating_from];
  for (std::size_t k = 0; k < first.size(); ++k) {
    const auto& [name, reference] = first[k];
    if (entries_[k].floating) {
      output.insert(name,
                    at::empty(reference.sizes(), reference.options()
                                                     .dtype(entries_[k].out_dtype)
                                                     .memory_format(at::MemoryFormat::Contiguous)));
    } else {
      output.insert(name, source.at(name).clone(at::MemoryFormat::Contiguous));
    }
  }
  return output;
}

void WeightFuser::fuse(const Eigen::Ref<const Eigen::VectorXd>& delta, StateDict& output) const {
  check_delta(delta);
  const StateDict& first = members_[0];
  detail::require(output.size() == first.size(), "bomf::WeightFuser::fuse",
                  "argument 'output' has ", output.size(), " tensors, expected ", first.size(),
                  " (use make_output())");
  for (std::size_t k = 0; k < first.size(); ++k) {
    const auto& [name, reference] = first[k];
    const auto& [out_name, out] = output[k];
    const bool matches = out_name == name && out.sizes() == reference.sizes() &&
                         out.scalar_type() == entries_[k].out_dtype && out.is_contiguous() &&
                         out.device().is_cpu();
    if (!matches) {  // (not detail::require: its message arguments would allocate every call)
      detail::throw_invalid_argument(
          "bomf::WeightFuser::fuse", "argument 'output' entry ", k, " is '", out_name, "' with ",
          detail::describe(out), ", expected '", name, "' with shape ", reference.sizes(),
          " and dtype ", entries_[k].out_dtype, ", contiguous on the CPU (use make_output())");
    }
  }
  for (std::size_t k = 0; k < first.size(); ++k) {
    const at::Tensor& out = output[k].second;
    if (entries_[k].floating) {
      fuse_buffers(pointers_.data() + entries_[k].first_pointer, members_.size(), delta.data(),
                   *detail::fusion_dtype_of(first[k].second.scalar_type()), out.data_ptr(),
                   *detail::fusion_dtype_of(entries_[k].out_dtype),
                   static_cast<std::size_t>(out.numel()));
    } else {
      if (out.data_ptr() != entries_[k].source && out.nbytes() > 0) {
        std::memcpy(out.data_ptr(), entries_[k].source, out.nbytes());
      }
    }
  }
}

StateDict WeightFuser::fuse(const Eigen::Ref<const Eigen::VectorXd>& delta) const {
  check_delta(delta);
  StateDict output = make_output();
  fuse(delta, output);
  return output;
}

StateDict fuse_state_dicts(const std::vector<StateDict>& members,
                           const Eigen::Ref<const Eigen::VectorXd>& delta,
                           const FusionOptions& options) {
  return WeightFuser(members, options).fuse(delta);
}

}  // namespace bomf
