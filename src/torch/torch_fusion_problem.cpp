#include "bomf/torch/torch_fusion_problem.hpp"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/module.h>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <unordered_map>

#include "bomf/core/error.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/io/torch_archive.hpp"
#include "fusion/torch_dtype.hpp"

namespace bomf {
namespace {

constexpr const char* kWhere = "bomf::TorchFusionProblem";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- fingerprint: FNV-1a over bytes ------------------------------------------------------

class Fnv1a {
 public:
  void bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) {
      hash_ = (hash_ ^ p[i]) * 0x100000001b3ULL;
    }
  }
  template <class T>
  void value(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes(&v, sizeof v);
  }
  void text(const std::string& s) {
    value(static_cast<std::uint64_t>(s.size()));
    bytes(s.data(), s.size());
  }
  [[nodiscard]] std::string hex() const {
    char buffer[17];
    std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash_));
    return buffer;
  }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

// ---- ∂loss/∂δ_i: inner products in double ------------------------------------------------

template <class T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, c10::Half> || std::is_same_v<T, c10::BFloat16>) {
    return static_cast<double>(static_cast<float>(v));
  } else {
    return static_cast<double>(v);
  }
}

// Σ_j g[j] · w[j] accumulated in double (four partial sums).
template <class G, class W>
double dot(const G* g, const W* w, std::int64_t n) {
  double s0 = 0.0;
  double s1 = 0.0;
  double s2 = 0.0;
  double s3 = 0.0;
  std::int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += to_double(g[j]) * to_double(w[j]);
    s1 += to_double(g[j + 1]) * to_double(w[j + 1]);
    s2 += to_double(g[j + 2]) * to_double(w[j + 2]);
    s3 += to_double(g[j + 3]) * to_double(w[j + 3]);
  }
  for (; j < n; ++j) {
    s0 += to_double(g[j]) * to_double(w[j]);
  }
  return (s0 + s1) + (s2 + s3);
}

template <class G>
double dot_with(const G* g, const at::Tensor& w) {
  const std::int64_t n = w.numel();
  switch (w.scalar_type()) {
    case at::kFloat:
      return dot(g, static_cast<const float*>(w.data_ptr()), n);
    case at::kDouble:
      return dot(g, static_cast<const double*>(w.data_ptr()), n);
    case at::kHalf:
      return dot(g, static_cast<const c10::Half*>(w.data_ptr()), n);
    case at::kBFloat16:
      return dot(g, static_cast<const c10::BFloat16*>(w.data_ptr()), n);
    default:
      detail::throw_invalid_argument(kWhere, "internal error: member tensor of dtype ",
                                     w.scalar_type(), " in the gradient");
  }
}

// ⟨g, w⟩ for contiguous CPU tensors of equal numel and floating dtypes.
double inner_product(const at::Tensor& g, const at::Tensor& w) {
  switch (g.scalar_type()) {
    case at::kFloat:
      return dot_with(static_cast<const float*>(g.data_ptr()), w);
    case at::kDouble:
      return dot_with(static_cast<const double*>(g.data_ptr()), w);
    case at::kHalf:
      return dot_with(static_cast<const c10::Half*>(g.data_ptr()), w);
    case at::kBFloat16:
      return dot_with(static_cast<const c10::BFloat16*>(g.data_ptr()), w);
    default:
      detail::throw_invalid_argument(kWhere, "internal error: gradient of dtype ", g.scalar_type());
  }
}

// Sets requires_grad on the fused tensors for the lifetime of the guard, then restores the
// flags (also when the validation function throws).
class RequiresGradGuard {
 public:
  explicit RequiresGradGuard(std::vector<at::Tensor>& tensors) : tensors_(tensors) {
    changed_.reserve(tensors.size());
    for (std::size_t t = 0; t < tensors_.size(); ++t) {
      if (!tensors_[t].requires_grad()) {
        tensors_[t].requires_grad_(true);
        changed_.push_back(t);
      }
    }
  }
  ~RequiresGradGuard() {
    for (std::size_t t : changed_) {
      tensors_[t].requires_grad_(false);
    }
  }
  RequiresGradGuard(const RequiresGradGuard&) = delete;
  RequiresGradGuard& operator=(const RequiresGradGuard&) = delete;

 private:
  std::vector<at::Tensor>& tensors_;
  std::vector<std::size_t> changed_;
};

}  // namespace

std::string TorchFusionOptions::validate() const {
  if (output_dtype && !detail::fusion_dtype_of(*output_dtype)) {
    return detail::concat("option 'output_dtype' is ", *output_dtype,
                          ", expected Float, BFloat16, Half or Double");
  }
  if (fingerprint_samples < 0) {
    return detail::concat("option 'fingerprint_samples' is ", fingerprint_samples,
                          ", expected a count ≥ 0");
  }
  return {};
}

std::vector<StateDict> load_fusion_members(const std::vector<std::string>& paths) {
  detail::require(!paths.empty(), "bomf::load_fusion_members",
                  "argument 'paths' is empty, expected one checkpoint file per member");
  std::vector<StateDict> members;
  members.reserve(paths.size());
  for (const std::string& path : paths) {
    if (ends_with(path, ".safetensors") || ends_with(path, ".json")) {
      members.push_back(SafetensorsCheckpoint(path).state_dict(/*copy=*/false));
    } else {
      members.push_back(load_torch_state_dict(path));
    }
  }
  return members;
}

struct TorchFusionProblem::Impl {
  Impl(std::vector<StateDict> members, const FusionOptions& fusion_options)
      : fuser(std::move(members), fusion_options) {}

  WeightFuser fuser;
  FusionObjectives objectives;
  TorchFusionOptions options;
  std::shared_ptr<torch::nn::Module> module;
  ModuleValidation module_validation;
  WeightsValidation weights_validation;
  StateDict output;                         // the fused weights buffer (member 0's order)
  std::vector<const void*> output_data;     // module form: data pointers at construction
  std::vector<std::size_t> floating;        // output indices of the fused floating tensors
  std::vector<at::Tensor> gradient_inputs;  // output tensors at `floating`
  std::vector<std::vector<at::Tensor>> member_tensors;  // [t][i]: member i's tensor `floating[t]`
  std::string fingerprint;

  static std::unique_ptr<Impl> create(std::vector<StateDict> members,
                                      const TorchFusionOptions& options);
  void bind_module();
  void compute_fingerprint();
  void fuse(const Eigen::VectorXd& delta, const char* where);
  TorchValidation validate(const char* where);
};

namespace {

FusionOptions fusion_options_of(const TorchFusionOptions& options) {
  FusionOptions out;
  out.output_dtype = options.output_dtype;
  out.copy_non_floating_from = options.copy_non_floating_from;
  out.require_simplex = options.require_simplex;
  return out;
}

}  // namespace

std::unique_ptr<TorchFusionProblem::Impl> TorchFusionProblem::Impl::create(
    std::vector<StateDict> members, const TorchFusionOptions& options) {
  detail::require(members.size() >= 2, kWhere, "argument 'members' has ", members.size(),
                  " state dicts, expected at least 2 members to fuse");
  const std::string problem = options.validate();
  detail::require(problem.empty(), kWhere, problem);
  // Name the tensor when a member lacks one or has an extra one (WeightFuser would only report
  // differing counts first).
  for (std::size_t m = 1; m < members.size(); ++m) {
    for (const auto& [name, tensor] : members[0]) {
      detail::require(members[m].contains(name), kWhere, "member ", m, " has no tensor '", name,
                      "' (present in member 0)");
    }
    for (const auto& [name, tensor] : members[m]) {
      detail::require(members[0].contains(name), kWhere, "member ", m, " has the tensor '", name,
                      "' that member 0 lacks");
    }
  }
  try {
    return std::make_unique<Impl>(std::move(members), fusion_options_of(options));
  } catch (const invalid_argument& error) {
    detail::throw_invalid_argument(kWhere, "argument 'members' is inconsistent: ", error.what());
  }
}

void TorchFusionProblem::Impl::bind_module() {
  if (options.set_eval_mode) {
    module->eval();
  }
  // The module's tensors by name (parameters, then buffers; undefined ones, e.g. a disabled
  // bias, are skipped).
  std::map<std::string, std::pair<at::Tensor, const char*>> tensors;
  std::unordered_map<const c10::TensorImpl*, std::string> owners;
  const auto add = [&](const std::string& name, const at::Tensor& tensor, const char* kind) {
    if (!tensor.defined()) {
      return;
    }
    detail::require(tensors.emplace(name, std::make_pair(tensor, kind)).second, kWhere,
                    "the module has a parameter and a buffer both named '", name, "'");
    const auto [it, fresh] = owners.emplace(tensor.unsafeGetTensorImpl(), name);
    detail::require(fresh, kWhere, "the module's tensors '", it->second, "' and '", name,
                    "' are the same tensor (tied weights), which TorchFusionProblem does not "
                    "support: register it once");
  };
  for (const auto& item : module->named_parameters(/*recurse=*/true)) {
    add(item.key(), item.value(), "parameter");
  }
  for (const auto& item : module->named_buffers(/*recurse=*/true)) {
    add(item.key(), item.value(), "buffer");
  }

  const StateDict& first = fuser.member(0);
  for (std::size_t k = 0; k < first.size(); ++k) {
    const auto& [name, reference] = first[k];
    const auto it = tensors.find(name);
    detail::require(it != tensors.end(), kWhere, "the members' tensor '", name,
                    "' is neither a parameter nor a buffer of the module (the module has ",
                    tensors.size(),
                    " tensors; names must match its named_parameters() and "
                    "named_buffers())");
    const auto& [tensor, kind] = it->second;
    const bool is_floating = detail::fusion_dtype_of(reference.scalar_type()).has_value();
    const at::ScalarType expected =
        is_floating && options.output_dtype ? *options.output_dtype : reference.scalar_type();
    detail::require(tensor.sizes() == reference.sizes(), kWhere, "tensor '", name, "' has shape ",
                    reference.sizes(), " in the members but shape ", tensor.sizes(),
                    " in the module (", kind, ")");
    detail::require(
        tensor.scalar_type() == expected, kWhere, "tensor '", name, "' has dtype ",
        tensor.scalar_type(), " in the module (", kind, "), expected ", expected,
        is_floating && options.output_dtype ? " (option 'output_dtype')" : " (the members' dtype)");
    detail::require(tensor.device().is_cpu(), kWhere, "the module's ", kind, " '", name, "' is on ",
                    tensor.device(), ", expected the CPU");
    detail::require(tensor.is_contiguous(), kWhere, "the module's ", kind, " '", name,
                    "' is not contiguous, expected contiguous storage to fuse into");
    output.insert(name, tensor);
  }
  for (const auto& [name, entry] : tensors) {
    detail::require(first.contains(name), kWhere, "the module's ", entry.second, " '", name,
                    "' is missing from the members (member 0 has no tensor '", name, "')");
  }
  output_data.reserve(output.size());
  for (const auto& [name, tensor] : output) {
    output_data.push_back(tensor.data_ptr());
  }
}

void TorchFusionProblem::Impl::compute_fingerprint() {
  const StateDict& first = fuser.member(0);
  Fnv1a layout;
  for (const auto& [name, tensor] : first) {
    layout.text(name);
    layout.value(static_cast<std::int64_t>(tensor.dim()));
    for (const std::int64_t size : tensor.sizes()) {
      layout.value(size);
    }
    layout.value(static_cast<std::int32_t>(tensor.scalar_type()));
  }
  Fnv1a values;
  const auto samples = static_cast<std::int64_t>(options.fingerprint_samples);
  for (std::size_t m = 0; m < fuser.num_members(); ++m) {
    for (const auto& [name, reference] : first) {
      const at::Tensor& tensor = fuser.member(m).at(name);  // contiguous (WeightFuser)
      const std::int64_t n = tensor.numel();
      if (n == 0 || samples == 0) {
        continue;
      }
      const auto* data = static_cast<const unsigned char*>(tensor.data_ptr());
      const auto item = static_cast<std::size_t>(tensor.element_size());
      const std::int64_t count = std::min(samples, n);
      for (std::int64_t s = 0; s < count; ++s) {
        const std::int64_t position = count == 1 ? 0 : s * (n - 1) / (count - 1);
        values.bytes(data + static_cast<std::size_t>(position) * item, item);
      }
    }
  }
  std::ostringstream out;
  out << "TorchFusionProblem N=" << fuser.num_members() << " tensors=" << first.size()
      << " elements=" << fuser.num_fused_elements() << " layout=" << layout.hex()
      << " values=" << values.hex();
  if (options.output_dtype) {
    out << " output_dtype=" << *options.output_dtype;
  }
  if (options.copy_non_floating_from != 0) {
    out << " copy_non_floating_from=" << options.copy_non_floating_from;
  }
  if (!options.fingerprint_extra.empty()) {
    out << " extra=" << options.fingerprint_extra;
  }
  fingerprint = out.str();
}

void TorchFusionProblem::Impl::fuse(const Eigen::VectorXd& delta, const char* where) {
  detail::check_fusion_delta(delta, fuser.num_members(), options.require_simplex, where);
  for (std::size_t k = 0; k < output_data.size(); ++k) {  // module form only
    const at::Tensor& tensor = output[k].second;
    if (tensor.data_ptr() != output_data[k]) {
      detail::throw_invalid_argument(
          where, "the module's tensor '", output[k].first,
          "' was reallocated after the problem was built (module->to(), set_data(), ...); "
          "build the TorchFusionProblem after moving or converting the module");
    }
  }
  fuser.fuse(delta, output);
}

TorchValidation TorchFusionProblem::Impl::validate(const char* where) {
  TorchValidation result = module ? module_validation() : weights_validation(output);
  const std::size_t k = objectives.metrics.size();
  if (result.metrics.size() != k) {
    detail::throw_invalid_argument(where, "the validation function returned ",
                                   result.metrics.size(), " metric values, expected ", k,
                                   " (one per metric of the objectives, first '",
                                   objectives.metrics.front().name, "')");
  }
  detail::require(result.loss.defined(), where,
                  "the validation function returned an undefined loss tensor, expected a "
                  "scalar tensor");
  detail::require(result.loss.numel() == 1, where, "the validation loss has ",
                  detail::describe(result.loss), ", expected a scalar (one element)");
  detail::require(detail::fusion_dtype_of(result.loss.scalar_type()).has_value(), where,
                  "the validation loss has dtype ", result.loss.scalar_type(),
                  ", expected a floating dtype");
  return result;
}

TorchFusionProblem::TorchFusionProblem(Tag, std::vector<StateDict> members,
                                       FusionObjectives objectives,
                                       std::shared_ptr<torch::nn::Module> module,
                                       ModuleValidation module_validation,
                                       WeightsValidation weights_validation,
                                       TorchFusionOptions options) {
  objectives.validate(kWhere);
  const bool module_form = static_cast<bool>(module_validation);
  if (module_form) {
    detail::require(module != nullptr, kWhere, "argument 'module' is null, expected a module");
  } else {
    detail::require(static_cast<bool>(weights_validation), kWhere,
                    "argument 'validate' is an empty function, expected a validation function");
  }
  impl_ = Impl::create(std::move(members), options);
  impl_->objectives = std::move(objectives);
  impl_->options = std::move(options);
  impl_->module = std::move(module);
  impl_->module_validation = std::move(module_validation);
  impl_->weights_validation = std::move(weights_validation);
  if (module_form) {
    impl_->bind_module();
  } else {
    impl_->output = impl_->fuser.make_output();
  }
  for (std::size_t k = 0; k < impl_->output.size(); ++k) {
    const at::Tensor& tensor = impl_->output[k].second;
    if (detail::fusion_dtype_of(tensor.scalar_type()).has_value()) {
      impl_->floating.push_back(k);
      impl_->gradient_inputs.push_back(tensor);
      std::vector<at::Tensor> column;
      for (std::size_t i = 0; i < impl_->fuser.num_members(); ++i) {
        column.push_back(impl_->fuser.member(i).at(impl_->output[k].first));
      }
      impl_->member_tensors.push_back(std::move(column));
    }
  }
  impl_->compute_fingerprint();
}

TorchFusionProblem::~TorchFusionProblem() = default;
TorchFusionProblem::TorchFusionProblem(TorchFusionProblem&&) noexcept = default;
TorchFusionProblem& TorchFusionProblem::operator=(TorchFusionProblem&&) noexcept = default;

int TorchFusionProblem::num_members() const {
  return static_cast<int>(impl_->fuser.num_members());
}

FusionObjectives TorchFusionProblem::objectives() const {
  return impl_->objectives;
}

std::string TorchFusionProblem::fingerprint() const {
  return impl_->fingerprint;
}

const StateDict& TorchFusionProblem::fused_weights() const {
  return impl_->output;
}

const WeightFuser& TorchFusionProblem::fuser() const {
  return impl_->fuser;
}

void TorchFusionProblem::fuse(const Eigen::VectorXd& delta) {
  impl_->fuse(delta, "bomf::TorchFusionProblem::fuse");
}

FusionEvaluation TorchFusionProblem::evaluate(const Eigen::VectorXd& delta) {
  constexpr const char* where = "bomf::TorchFusionProblem::evaluate";
  impl_->fuse(delta, where);
  const at::NoGradGuard no_grad;
  const TorchValidation result = impl_->validate(where);
  FusionEvaluation evaluation;
  evaluation.loss = result.loss.item<double>();
  evaluation.metrics = Eigen::Map<const Eigen::VectorXd>(
      result.metrics.data(), static_cast<Eigen::Index>(result.metrics.size()));
  return evaluation;
}

double TorchFusionProblem::loss_and_gradient(const Eigen::VectorXd& delta,
                                             Eigen::VectorXd& gradient) {
  constexpr const char* where = "bomf::TorchFusionProblem::loss_and_gradient";
  impl_->fuse(delta, where);
  const at::AutoGradMode grad_enabled(true);
  std::vector<at::Tensor> gradients;
  double loss = 0.0;
  {
    const RequiresGradGuard requires_grad(impl_->gradient_inputs);
    const TorchValidation result = impl_->validate(where);
    detail::require(result.loss.requires_grad(), where,
                    "the validation loss does not require grad: compute it from the fused "
                    "weights (the module's tensors, or the state dict passed to the function) "
                    "without detach(), item() or a NoGradGuard");
    loss = result.loss.item<double>();
    gradients = torch::autograd::grad({result.loss.reshape({})}, impl_->gradient_inputs, {},
                                      /*retain_graph=*/false, /*create_graph=*/false,
                                      /*allow_unused=*/true);
  }
  const std::size_t n = impl_->fuser.num_members();
  gradient.setZero(static_cast<Eigen::Index>(n));
  bool any = false;
  for (std::size_t t = 0; t < impl_->floating.size(); ++t) {
    if (!gradients[t].defined()) {
      continue;  // the loss does not depend on this tensor
    }
    any = true;
    const at::Tensor g =
        gradients[t].is_sparse() ? gradients[t].to_dense() : gradients[t].contiguous();
    // One inner product per member, spread over libtorch's intra-op threads.
    const std::vector<at::Tensor>& column = impl_->member_tensors[t];
    at::parallel_for(0, static_cast<std::int64_t>(n), 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) {
        gradient[i] += inner_product(g, column[static_cast<std::size_t>(i)]);
      }
    });
  }
  detail::require(any, where,
                  "the validation loss does not depend on any fused tensor (every gradient is "
                  "undefined): compute it from the fused weights");
  return loss;
}

}  // namespace bomf
