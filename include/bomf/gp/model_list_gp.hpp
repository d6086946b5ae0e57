// bomf/gp/model_list_gp.hpp — independent GPs, one per objective, on shared training inputs.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/parallel.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/fit_gp.hpp"

namespace bomf {

/// m independent exact GPs sharing their training inputs, one per objective (BoTorch's
/// `ModelListGP` of `SingleTaskGP`s). Each model has its own hyperparameters and outcome
/// standardization; posteriors are per objective (the objectives are independent a posteriori).
template <class Kernel>
class ModelListGP {
 public:
  /// Takes m ≥ 1 models; they must have identical training inputs (n × d).
  explicit ModelListGP(std::vector<ExactGP<Kernel>> models) : models_(std::move(models)) {
    constexpr const char* where = "bomf::ModelListGP";
    detail::require(!models_.empty(), where, "argument 'models' is empty, expected ≥ 1 model");
    for (std::size_t i = 1; i < models_.size(); ++i) {
      detail::require(models_[i].train_inputs().rows() == models_[0].train_inputs().rows() &&
                          models_[i].train_inputs().cols() == models_[0].train_inputs().cols() &&
                          models_[i].train_inputs() == models_[0].train_inputs(),
                      where, "model ", i, " has training inputs different from model 0's");
    }
  }

  /// Number of objectives m.
  int num_outputs() const noexcept { return static_cast<int>(models_.size()); }
  /// Input dimension d.
  int dim() const noexcept { return models_.front().dim(); }
  /// Number of training points n.
  Eigen::Index num_train() const noexcept { return models_.front().num_train(); }
  /// The model of objective `i` (0 ≤ i < m).
  const ExactGP<Kernel>& model(int i) const {
    detail::require(i >= 0 && i < num_outputs(), "bomf::ModelListGP::model", "index ", i,
                    " out of range [0, ", num_outputs(), ")");
    return models_[static_cast<std::size_t>(i)];
  }
  /// All models.
  const std::vector<ExactGP<Kernel>>& models() const noexcept { return models_; }

  /// Joint posterior over the q rows of `x` (q × d, original units) of each objective: m
  /// entries, original outcome scales. Cost m times ExactGP::posterior.
  std::vector<Posterior> posterior(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    std::vector<Posterior> out;
    out.reserve(models_.size());
    for (const auto& m : models_)
      out.push_back(m.posterior(x));
    return out;
  }

  /// Posterior means (q × m) at the q rows of `x`.
  Eigen::MatrixXd posterior_mean(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    Eigen::MatrixXd out(x.rows(), num_outputs());
    for (int i = 0; i < num_outputs(); ++i)
      out.col(i) = models_[static_cast<std::size_t>(i)].posterior_mean(x);
    return out;
  }

  /// Adds the observation (x, y) (x length d, y length m) to every model, keeping the
  /// hyperparameters and standardizations (ExactGP::add_observation; O(m (n² + n d))).
  void add_observation(const Eigen::Ref<const Eigen::VectorXd>& x,
                       const Eigen::Ref<const Eigen::VectorXd>& y) {
    constexpr const char* where = "bomf::ModelListGP::add_observation";
    detail::require_shape(y, num_outputs(), 1, where, "y");
    detail::require_finite(y, where, "y");
    detail::require_shape(x, dim(), 1, where, "x");
    detail::require_finite(x, where, "x");
    for (int i = 0; i < num_outputs(); ++i)
      models_[static_cast<std::size_t>(i)].add_observation(x, y(i));
  }

 private:
  std::vector<ExactGP<Kernel>> models_;
};

/// Fits one GP per column of `train_y` (n × m) on the shared inputs `train_x` (n × d), each
/// independently with `fit_gp<Kernel>(train_x, train_y.col(i), options)` (same seed for every
/// objective; deterministic), on up to `options.num_threads` threads. `summaries`, when given,
/// receives the m fit summaries. Cost m times fit_gp.
template <class Kernel>
ModelListGP<Kernel> fit_model_list_gp(const Eigen::Ref<const Eigen::MatrixXd>& train_x,
                                      const Eigen::Ref<const Eigen::MatrixXd>& train_y,
                                      const GpFitOptions& options = GpFitOptions(),
                                      std::vector<GpFitSummary>* summaries = nullptr) {
  constexpr const char* where = "bomf::fit_model_list_gp";
  detail::require(train_y.cols() >= 1, where, "argument 'train_y' has no columns");
  detail::require_shape(train_y, train_x.rows(), -1, where, "train_y");
  detail::require_finite(train_y, where, "train_y");
  detail::require(options.num_threads >= 1, where, "options.num_threads is ", options.num_threads,
                  ", expected >= 1");
  const auto m = static_cast<std::size_t>(train_y.cols());
  std::vector<std::optional<ExactGP<Kernel>>> fitted(m);
  std::vector<GpFitSummary> fit_summaries(m);
  detail::parallel_for(options.num_threads, train_y.cols(), [&](int, Eigen::Index i) {
    const auto slot = static_cast<std::size_t>(i);
    fitted[slot].emplace(fit_gp<Kernel>(train_x, train_y.col(i), options, &fit_summaries[slot]));
  });
  std::vector<ExactGP<Kernel>> models;
  models.reserve(m);
  for (auto& model : fitted) {
    models.push_back(std::move(*model));
  }
  if (summaries != nullptr)
    *summaries = std::move(fit_summaries);
  return ModelListGP<Kernel>(std::move(models));
}

}  // namespace bomf
