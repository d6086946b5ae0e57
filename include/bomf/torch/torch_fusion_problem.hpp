// bomf/torch/torch_fusion_problem.hpp — the ready-made FusionProblem for libtorch users.
//
// Given the N member checkpoints of a training run (state dicts in memory, or safetensors / torch
// archive files), the objectives, and either
//   * a `torch::nn::Module` whose parameters and buffers receive the fused weights, plus a
//     validation function `TorchValidation()` that runs that module on the validation data, or
//   * a validation function `TorchValidation(const StateDict& fused_weights)` that computes the
//     loss from the fused weights it is given (e.g. a functional forward pass),
// `TorchFusionProblem` evaluates the fused model w(δ) = Σ_i δ_i w_i (Jang et al., "Model Fusion
// through Bayesian Optimization in Language Model Fine-Tuning", NeurIPS 2024, eq. 3) for the
// fusion drivers, and provides the exact loss gradient ∂loss/∂δ that Learned SWA needs.
//
// This header includes no <torch/torch.h>: `torch::nn::Module` is only declared here, and the
// validation loss is an `at::Tensor` (<ATen/core/Tensor.h>).
//
// Example (module form):
//
//   auto model = std::make_shared<Mlp>();                // any torch::nn::Module, on the CPU
//   bomf::TorchFusionProblem problem(
//       bomf::load_fusion_members({"ckpt_100.safetensors", "ckpt_200.safetensors", ...}),
//       bomf::FusionObjectives{"loss", {{"accuracy", bomf::Direction::maximize}}}, model,
//       [&] {
//         at::Tensor logits = model->forward(x_valid);
//         return bomf::TorchValidation{torch::nn::functional::cross_entropy(logits, y_valid),
//                                      {accuracy(logits, y_valid)}};
//       });
//   bomf::FusionEvaluation e = problem.evaluate(delta);  // fused straight into model's tensors
#pragma once

#include <ATen/core/Tensor.h>

#include <Eigen/Core>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/fusion/state_dict.hpp"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace bomf {

class WeightFuser;

/// What a validation function returns: the validation loss as a scalar tensor (one element, any
/// floating dtype) and the K metric values in the order of `FusionObjectives::metrics`.
///
/// For `TorchFusionProblem::loss_and_gradient` the loss must be differentiable with respect to
/// the fused weights: computed from them (or from the module's tensors) without `detach()`,
/// `.item()` round trips or a `NoGradGuard` of its own. `evaluate()` runs the function under
/// `NoGradGuard`, so it costs no more than inference there.
struct TorchValidation {
  at::Tensor loss;              ///< scalar (numel 1), floating.
  std::vector<double> metrics;  ///< K values, natural units.
};

/// Options of `TorchFusionProblem` (in-class defaults are the recommended settings).
struct TorchFusionOptions {
  /// Storage dtype of the fused floating tensors (at::kFloat, at::kBFloat16, at::kHalf or
  /// at::kDouble). Empty (default): each tensor keeps its members' dtype. In the module form the
  /// module's floating tensors must have this dtype (e.g. bf16 members evaluated in an fp32
  /// module with `output_dtype = at::kFloat`).
  std::optional<at::ScalarType> output_dtype;
  /// Member whose non-floating tensors (integer step counters, position ids, boolean masks) are
  /// copied into the fused model; they are never averaged.
  std::size_t copy_non_floating_from = 0;
  /// When true, `evaluate` and `loss_and_gradient` accept only δ on the probability simplex
  /// (δ_i ≥ 0, |Σ δ_i − 1| ≤ 1e-6). Default false: any finite δ, so that finite differences
  /// and extrapolation work; the fusion drivers only ask for simplex points anyway.
  bool require_simplex = false;
  /// Module form only: call `module->eval()` once at construction (dropout off, normalization
  /// layers on their running statistics), as a validation pass expects. Set false to keep the
  /// module's mode as it is.
  bool set_eval_mode = true;
  /// Number of values sampled per tensor and member for `fingerprint()` (evenly spaced
  /// positions, including the first and the last element). 0 hashes names, shapes and dtypes
  /// only.
  int fingerprint_samples = 8;
  /// Appended to `fingerprint()` verbatim: identify the validation data or the metric code here,
  /// so that a journal made on other data is refused too.
  std::string fingerprint_extra;

  /// Empty when valid, else a message naming the offending option and its value.
  [[nodiscard]] std::string validate() const;
};

/// The member state dicts stored in `paths`, in order, for `TorchFusionProblem`: a path ending
/// in ".safetensors" or ".json" (a sharded safetensors index) is memory-mapped (the tensors are
/// views of the file, so N members cost page cache, not N copies in anonymous memory); any
/// other path is read with `load_torch_state_dict` (a `torch.save`d dict, a
/// `torch::pickle_save`d dict or a `torch::serialize::OutputArchive`). Throws
/// `bomf::invalid_argument` for an empty list and `bomf::io_error` for unreadable or malformed
/// files (the message names the file).
[[nodiscard]] std::vector<StateDict> load_fusion_members(const std::vector<std::string>& paths);

namespace detail {

/// True when `V&` is callable as `TorchValidation()` (module form).
template <class V>
inline constexpr bool is_module_validation_v =
    std::is_invocable_r_v<TorchValidation, std::decay_t<V>&>;

/// True when `V&` is callable as `TorchValidation(const StateDict&)` (weights form).
template <class V>
inline constexpr bool is_weights_validation_v =
    std::is_invocable_r_v<TorchValidation, std::decay_t<V>&, const StateDict&>;

/// True for a `torch::nn::ModuleHolder` (torch::nn::Linear, TORCH_MODULE types): `.ptr()`
/// returns a shared_ptr to a module.
template <class H, class = void>
struct is_module_holder : std::false_type {};
template <class H>
struct is_module_holder<H, std::void_t<decltype(std::declval<const H&>().ptr())>> : std::true_type {
};

}  // namespace detail

/// The module that receives the fused weights: a `std::shared_ptr` to any `torch::nn::Module`
/// subclass, or a `torch::nn::ModuleHolder` (`torch::nn::Linear`, `TORCH_MODULE(Net)` types).
/// Converts implicitly from either; the module is shared, not copied.
class TorchModuleRef {
 public:
  /// From `std::shared_ptr<M>` with M derived from torch::nn::Module.
  template <class M, class = std::enable_if_t<std::is_convertible_v<M*, torch::nn::Module*>>>
  TorchModuleRef(std::shared_ptr<M> module)  // NOLINT(google-explicit-constructor)
      : module_(std::move(module)) {}
  /// From a ModuleHolder (anything whose `.ptr()` returns such a shared_ptr).
  template <class Holder, class = std::enable_if_t<detail::is_module_holder<Holder>::value>,
            class = void>
  TorchModuleRef(const Holder& holder)  // NOLINT(google-explicit-constructor)
      : module_(holder.ptr()) {}

  [[nodiscard]] const std::shared_ptr<torch::nn::Module>& get() const noexcept { return module_; }

 private:
  std::shared_ptr<torch::nn::Module> module_;
};

/// `FusionProblem` for libtorch models: fuses the members with `WeightFuser` into one output
/// buffer that is reused by every evaluation, then runs the user's validation function.
///
/// **Module form.** The fused weights are written directly into the module's own parameter and
/// buffer storage (no copy, no reallocation: their `data_ptr()` never changes). The members'
/// tensor names must be exactly the module's `named_parameters()` plus `named_buffers()`
/// (recursive, e.g. "fc1.weight", "bn.running_mean"), each with the module's shape and dtype
/// (floating tensors: `options.output_dtype` when set), contiguous and on the CPU; tensors
/// shared under two names (tied weights) are not supported. Floating buffers (running
/// statistics) are fused like parameters; non-floating ones are copied from member
/// `options.copy_non_floating_from`. Do not reallocate the module's tensors afterwards
/// (`module->to(...)`, `set_data`): evaluations detect it and throw.
///
/// **Weights form.** The fused weights go to one state dict allocated at construction (member
/// 0's names and order, floating tensors in `options.output_dtype` or the members' dtype),
/// which is passed to the validation function on every call; the tensors are the same objects
/// each time (overwritten in place), so a function may cache them.
///
/// `evaluate(δ)`: fuse, then the validation function under `NoGradGuard`; returns the loss and
/// the K metrics (a non-finite loss or metric is returned as is: the drivers record the
/// evaluation as failed). Cost: the fusion, (N + 1)·P element transfers for P floating
/// elements (see `WeightFuser::fuse`), plus one validation pass; no allocation by bomf beyond
/// the result. Memory: one fused copy of the weights (none extra in the module form: the
/// module's own storage is the buffer); the members are shared, not copied (memory-mapped when
/// loaded by `load_fusion_members`).
///
/// `loss_and_gradient(δ, g)`: fuse, run the validation function with gradients enabled with
/// respect to every fused floating tensor (parameters, frozen ones included, and floating
/// buffers: all of them depend on δ), and return the exact chain rule of w(δ) = Σ_i δ_i w_i,
///   ∂loss/∂δ_i = Σ_t ⟨∂loss/∂w_t, w_{i,t}⟩   over the fused floating tensors t,
/// each inner product accumulated in double with bf16/fp16/fp32 values upcast per element.
/// Gradients go through `torch::autograd::grad`, so the module's `.grad` fields are left
/// untouched, and `requires_grad` flags are restored afterwards (also on exceptions).
/// Cost: the fusion, one forward and backward pass, and N·P multiply-adds reading every member
/// once (the N inner products of a tensor run on libtorch's intra-op threads); transient
/// memory: the autograd graph and one gradient tensor per fused tensor.
///
/// Errors (all at construction unless said otherwise; `bomf::invalid_argument`, messages name
/// the tensor or argument): N < 2; invalid objectives or options; members that disagree with
/// each other (see `WeightFuser`) or with the module (a tensor missing on either side, another
/// shape or dtype, a non-CPU or non-contiguous module tensor); a null module or empty function.
/// At evaluation: δ of the wrong length or non-finite (off the simplex if required); a
/// validation result with the wrong number of metrics (naming expected and actual counts), an
/// undefined, non-floating or non-scalar loss; for `loss_and_gradient`, a loss that does not
/// depend on the fused weights. Exceptions thrown by the validation function propagate.
///
/// Not thread-safe (one output buffer). Copying is disabled; the object is movable.
class TorchFusionProblem final : public FusionProblem {
 public:
  using ModuleValidation = std::function<TorchValidation()>;
  using WeightsValidation = std::function<TorchValidation(const StateDict&)>;

  /// Module form: fused weights go into `module`'s tensors; `validate()` evaluates `module`.
  template <class Validate>
  TorchFusionProblem(std::vector<StateDict> members, FusionObjectives objectives,
                     TorchModuleRef module, Validate&& validate, TorchFusionOptions options = {})
      : TorchFusionProblem(
            Tag{}, std::move(members), std::move(objectives), module.get(),
            ModuleValidation(wrap_module_validation(std::forward<Validate>(validate))),
            WeightsValidation(), std::move(options)) {}

  /// Weights form: `validate(fused_weights)` computes the loss and metrics from the fused state
  /// dict it is given.
  template <class Validate>
  TorchFusionProblem(std::vector<StateDict> members, FusionObjectives objectives,
                     Validate&& validate, TorchFusionOptions options = {})
      : TorchFusionProblem(
            Tag{}, std::move(members), std::move(objectives), nullptr, ModuleValidation(),
            WeightsValidation(wrap_weights_validation(std::forward<Validate>(validate))),
            std::move(options)) {}

  ~TorchFusionProblem() override;
  TorchFusionProblem(TorchFusionProblem&&) noexcept;
  TorchFusionProblem& operator=(TorchFusionProblem&&) noexcept;
  TorchFusionProblem(const TorchFusionProblem&) = delete;
  TorchFusionProblem& operator=(const TorchFusionProblem&) = delete;

  [[nodiscard]] int num_members() const override;
  [[nodiscard]] FusionObjectives objectives() const override;
  FusionEvaluation evaluate(const Eigen::VectorXd& delta) override;
  [[nodiscard]] bool has_loss_gradient() const override { return true; }
  double loss_and_gradient(const Eigen::VectorXd& delta, Eigen::VectorXd& gradient) override;

  /// "TorchFusionProblem N=<N> tensors=<T> elements=<P> layout=<hash> values=<hash>", then
  /// " output_dtype=<dtype>" and " copy_non_floating_from=<i>" when those options are set, and
  /// " extra=<options.fingerprint_extra>" when non-empty. `layout` hashes (FNV-1a, 64 bits) every
  /// tensor's name, shape and dtype; `values` hashes the bytes of `fingerprint_samples` evenly
  /// spaced elements of every tensor of every member, in member order (so reordering or
  /// replacing a member changes it; a change confined to unsampled elements does not). The
  /// same members give the same string in both forms and whatever the files they came from.
  /// Computed once at construction: O(N · T · samples) element reads.
  [[nodiscard]] std::string fingerprint() const override;

  /// Writes w(δ) into the output buffer (the module's tensors, or the fused state dict) without
  /// evaluating; the same checks on δ as `evaluate`.
  void fuse(const Eigen::VectorXd& delta);

  /// The fused weights buffer: in the module form, handles to the module's own tensors in the
  /// members' order; in the weights form, the state dict passed to the validation function.
  /// Contents are those of the last fusion.
  [[nodiscard]] const StateDict& fused_weights() const;

  /// The fuser (members, after validation; contiguous). Include bomf/fusion/weight_fuser.hpp
  /// to use it.
  [[nodiscard]] const WeightFuser& fuser() const;

 private:
  struct Tag {};
  struct Impl;

  TorchFusionProblem(Tag, std::vector<StateDict> members, FusionObjectives objectives,
                     std::shared_ptr<torch::nn::Module> module, ModuleValidation module_validation,
                     WeightsValidation weights_validation, TorchFusionOptions options);

  template <class Validate>
  static decltype(auto) wrap_module_validation(Validate&& validate) {
    static_assert(detail::is_module_validation_v<Validate>,
                  "bomf::TorchFusionProblem (module form): the validation function must be "
                  "callable as `bomf::TorchValidation validate()` — it runs the module you "
                  "passed (capture it) and returns {loss tensor, metric values}. For a function "
                  "of the fused weights, use the constructor without a module and the signature "
                  "`bomf::TorchValidation validate(const bomf::StateDict& fused_weights)`.");
    return std::forward<Validate>(validate);
  }
  template <class Validate>
  static decltype(auto) wrap_weights_validation(Validate&& validate) {
    static_assert(detail::is_weights_validation_v<Validate>,
                  "bomf::TorchFusionProblem (weights form): the validation function must be "
                  "callable as `bomf::TorchValidation validate(const bomf::StateDict& "
                  "fused_weights)` and compute the loss from those weights. To fuse into a "
                  "torch::nn::Module instead, pass the module before a function "
                  "`bomf::TorchValidation validate()`.");
    return std::forward<Validate>(validate);
  }

  std::unique_ptr<Impl> impl_;
};

}  // namespace bomf
