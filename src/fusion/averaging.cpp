#include "bomf/fusion/averaging.hpp"

#include <cmath>
#include <cstring>

#include "bomf/core/error.hpp"
#include "bomf/fusion/fuse_kernel.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "fusion/torch_dtype.hpp"

namespace bomf {

StateDict uniform_average(const std::vector<StateDict>& members) {
  detail::require(!members.empty(), "bomf::uniform_average",
                  "argument 'members' is empty, expected at least one state dict");
  const auto n = static_cast<Eigen::Index>(members.size());
  return fuse_state_dicts(members, Eigen::VectorXd::Constant(n, 1.0 / static_cast<double>(n)));
}

Eigen::VectorXd ema_coefficients(std::size_t n, double decay) {
  detail::require(n >= 1, "bomf::ema_coefficients", "argument 'n' is 0, expected at least 1");
  detail::require(decay >= 0.0 && decay <= 1.0, "bomf::ema_coefficients", "argument 'decay' is ",
                  decay, ", expected a value in [0, 1]");
  const auto size = static_cast<Eigen::Index>(n);
  Eigen::VectorXd delta(size);
  for (Eigen::Index t = 0; t < size; ++t) {
    const double tail = std::pow(decay, static_cast<double>(size - 1 - t));
    delta[t] = t == 0 ? tail : (1.0 - decay) * tail;
  }
  return delta;
}

ExponentialMovingAverage::ExponentialMovingAverage(double decay) : decay_(decay) {
  detail::require(decay >= 0.0 && decay <= 1.0, "bomf::ExponentialMovingAverage",
                  "argument 'decay' is ", decay, ", expected a value in [0, 1]");
}

namespace {

bool is_sixteen_bit_float(at::ScalarType type) {
  return type == at::kBFloat16 || type == at::kHalf;
}

}  // namespace

void ExponentialMovingAverage::update(const StateDict& current) {
  constexpr const char* kWhere = "bomf::ExponentialMovingAverage::update";
  for (const auto& [name, tensor] : current) {
    detail::require(tensor.device().is_cpu(), kWhere, "tensor '", name, "' is on ", tensor.device(),
                    ", expected the CPU");
  }
  if (updates_ == 0) {
    StateDict copy;
    std::vector<at::ScalarType> dtypes;
    for (const auto& [name, tensor] : current) {
      dtypes.push_back(tensor.scalar_type());
      copy.insert(name, is_sixteen_bit_float(tensor.scalar_type())
                            ? tensor.to(at::kFloat).contiguous()
                            : tensor.clone(at::MemoryFormat::Contiguous));
    }
    average_ = std::move(copy);
    update_dtypes_ = std::move(dtypes);
    updates_ = 1;
    return;
  }
  detail::require(current.size() == average_.size(), kWhere, "argument 'current' has ",
                  current.size(), " tensors, the average has ", average_.size());
  for (std::size_t k = 0; k < average_.size(); ++k) {
    const auto& [name, avg] = average_[k];
    const at::Tensor* tensor = current.find(name);
    detail::require(tensor != nullptr, kWhere, "argument 'current' has no tensor '", name, "'");
    if (tensor->sizes() != avg.sizes() || tensor->scalar_type() != update_dtypes_[k]) {
      detail::throw_invalid_argument(
          kWhere, "tensor '", name, "' has ", detail::describe(avg.to(update_dtypes_[k])),
          " in the first update but ", detail::describe(*tensor), " in 'current'");
    }
  }
  const double coeffs[2] = {decay_, 1.0 - decay_};
  for (std::size_t k = 0; k < average_.size(); ++k) {
    at::Tensor& avg = average_.tensor(k);
    const at::Tensor incoming = current.at(average_[k].first).contiguous();
    if (const auto dtype = detail::fusion_dtype_of(avg.scalar_type())) {
      // A 16-bit update is widened exactly to its fp32 shadow's dtype.
      const at::Tensor w = incoming.to(avg.scalar_type());
      const void* members[2] = {avg.data_ptr(), w.data_ptr()};
      fuse_buffers(members, 2, coeffs, *dtype, avg.data_ptr(), *dtype,
                   static_cast<std::size_t>(avg.numel()));
    } else if (avg.nbytes() > 0) {
      std::memcpy(avg.data_ptr(), incoming.data_ptr(), avg.nbytes());
    }
  }
  ++updates_;
}

StateDict ExponentialMovingAverage::rounded_average() const {
  StateDict out;
  for (std::size_t k = 0; k < average_.size(); ++k) {
    const auto& [name, avg] = average_[k];
    out.insert(name, is_sixteen_bit_float(update_dtypes_[k]) ? avg.to(update_dtypes_[k]) : avg);
  }
  return out;
}

}  // namespace bomf
