// bomf/acquisition/q_log_nehvi.hpp — q log noisy expected hypervolume improvement (qLogNEHVI)
// with gradients, as BoTorch 0.11.3's `qLogNoisyExpectedHypervolumeImprovement`.
//
// References
//   [Daulton21] S. Daulton, M. Balandat, E. Bakshy. Parallel Bayesian optimization of multiple
//     noisy objectives with expected hypervolume improvement. NeurIPS 2021.
//   [Ament23] S. Ament, S. Daulton, D. Eriksson, M. Balandat, E. Bakshy. Unexpected
//     improvements to expected improvement for Bayesian optimization. NeurIPS 2023.
//   [Lacour17] R. Lacour, K. Klamroth, C. M. Fonseca. A box decomposition algorithm to compute
//     the hypervolume indicator. Computers & Operations Research 79, 2017.
//
// Maximization. For candidates X (q × d), baseline points X_b (already evaluated) and a
// reference point r (length m), with S fixed quasi-Monte-Carlo base samples (sample average
// approximation: the acquisition is a deterministic smooth function of X):
//   1. per objective, the joint GP posterior of the latent f over [X_b; X]; samples
//      f[s] = μ + L z[s] with L its Cholesky factor, whose baseline block L_bb is cached and
//      extended by the low-rank update L_nb = K_nb L_bb⁻ᵀ, L_nn = chol(K_nn − L_nb L_nbᵀ);
//   2. per sample, the Pareto front of f[s](X_b) and its box decomposition of the
//      non-dominated region (bomf::FastNondominatedPartitioning, BoTorch's cells), computed once;
//   3. the hypervolume improvement of f[s](X) over each sample's front by inclusion–exclusion
//      over the 2^q − 1 subsets of candidates, with ReLU and min replaced by BoTorch's
//      fat-tailed log-space approximations (tau_relu, tau_max, fat = true), in log space;
//   4. logmeanexp over samples.
// The gradient w.r.t. X is exact (hand-written reverse mode through steps 3 and 1).
//
// With BoTorch's base samples injected, values and gradients agree with BoTorch to ~1e-13
// relative (tests/acquisition). Differences from BoTorch: the base samples come from
// bomf::sobol_normal_samples (bomf/sampling: scrambled Sobol, same distribution, other points),
// so (n_b + q)·m may not exceed SobolSequence::max_dimension = 3667 unless base samples are
// injected; the pruning draws its 2048 samples from it too (seeded, where BoTorch's are
// unseeded); when the candidates' conditional covariance is not positive definite
// even with jitter 1e-3, evaluation throws bomf::numerical_error where BoTorch falls back to
// sampling the full joint posterior; no constraints, objectives or incremental_nehvi = false
// (BoTorch's defaults are what is implemented). Pending points (options.X_pending) join the
// baseline after pruning, as BoTorch's X_pending.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "bomf/acquisition/detail/q_log_nehvi_core.hpp"
#include "bomf/acquisition/detail/q_log_nehvi_posterior.hpp"
#include "bomf/acquisition/detail/q_log_nehvi_q1.hpp"
#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/core/parallel.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/model_list_gp.hpp"
#include "bomf/multi_objective/pareto.hpp"
#include "bomf/optim/objective.hpp"
#include "bomf/sampling/normal_base_samples.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf {

/// Settings of `QLogNoisyExpectedHypervolumeImprovement`; defaults are BoTorch 0.11.3's.
struct QLogNehviOptions {
  /// Number S of quasi-Monte-Carlo samples (BoTorch's default sampler: 128).
  Eigen::Index num_samples = 128;
  /// Seed of the scrambled-Sobol normal base samples (baseline, new points, pruning).
  std::uint64_t seed = 0;
  /// Temperature of the fat-tailed softplus replacing ReLU (BoTorch's TAU_RELU).
  double tau_relu = 1e-6;
  /// Temperature of the fat-tailed smooth minimum (qLogNEHVI's default tau_max).
  double tau_max = 1e-3;
  /// Drop baseline points whose empirical probability of being Pareto-optimal and better than
  /// the reference point is zero (BoTorch's prune_inferior_points_multi_objective).
  bool prune_baseline = false;
  /// Samples used by the pruning (BoTorch: 2048).
  Eigen::Index prune_num_samples = 2048;
  /// At most ceil(prune_max_frac · n) baseline points are kept, the most probable first.
  double prune_max_frac = 1.0;
  /// Threads for the pruning's per-sample Pareto sweeps (≥ 1); the pruned set is the same
  /// whatever the number. Evaluation is single-threaded (one object per thread: the optimizers'
  /// num_threads copy it).
  int num_threads = 1;
  /// Base samples with which `screening_values` ranks the optimizers' raw candidates: the first
  /// `screening_samples` of the S (a prefix of the scrambled Sobol sequence, a balanced set when
  /// a power of 2). 0 (the default, BoTorch's behaviour) screens with all S, i.e. with the
  /// acquisition itself. A departure from BoTorch to trade screening cost for the restart
  /// choice: the restarts are still refined, and the result reported, with all S samples
  /// (bomf/optim/objective.hpp); measured in docs/iteration_speed.md. In [0, num_samples].
  Eigen::Index screening_samples = 0;
  /// Optional injected base samples for the baseline: S × (n_b · m), column i·m + k is
  /// objective k at baseline point i (BoTorch's `base_samples[s, i, k]` flattened row-major;
  /// with pending points, n_b counts them too, after the baseline's). Empty: drawn from the
  /// scrambled Sobol sequence (bomf::sobol_normal_samples). Incompatible with prune_baseline.
  Eigen::MatrixXd base_samples_baseline;
  /// Points submitted for evaluation but not yet evaluated (n_p × d, original units, or
  /// empty): appended to the baseline after any pruning and never pruned themselves, as
  /// BoTorch's X_pending (cache_pending = True). They must not repeat a baseline point.
  Eigen::MatrixXd X_pending;

  /// Empty when the scalar settings are valid, else the first invalid field, its value and what
  /// is expected. (Shapes of the injected base samples and of X_pending are checked against the
  /// data by the constructor.)
  [[nodiscard]] std::string validate() const {
    if (num_samples < 1)
      return detail::concat("num_samples is ", num_samples, ", expected ≥ 1");
    if (!(std::isfinite(tau_relu) && tau_relu > 0.0))
      return detail::concat("tau_relu is ", tau_relu, ", expected > 0");
    if (!(std::isfinite(tau_max) && tau_max > 0.0))
      return detail::concat("tau_max is ", tau_max, ", expected > 0");
    if (!(prune_max_frac > 0.0 && prune_max_frac <= 1.0))
      return detail::concat("prune_max_frac is ", prune_max_frac, ", expected in (0, 1]");
    if (prune_num_samples < 1)
      return detail::concat("prune_num_samples is ", prune_num_samples, ", expected ≥ 1");
    if (screening_samples < 0 || screening_samples > num_samples)
      return detail::concat("screening_samples is ", screening_samples,
                            ", expected 0 (all) to num_samples = ", num_samples);
    if (num_threads < 1)
      return detail::concat("num_threads is ", num_threads, ", expected ≥ 1");
    if (base_samples_baseline.size() > 0 && prune_baseline)
      return "base_samples_baseline cannot be combined with prune_baseline (the number of "
             "baseline points is not known before pruning)";
    return {};
  }
};

/// qLogNEHVI for m ≥ 2 independent exact GPs (one per objective) with kernel `Kernel`; see
/// the file comment for the definition. Supports m ≤ 8 objectives and q ≤ 6 candidates
/// (the issue asks for m ≤ 4, q ≤ 4).
///
/// Construction: O(m (n_b n_t² + n_b³)) for the cached Cholesky factors plus the S box
/// decompositions (O(S n_b² m) for the fronts and the cells; exponential in m in the worst
/// case, as BoTorch). Evaluation: O(m (q n d + q n² + S n_b q)) for the samples plus
/// O(S · C · 2^q · q · m) for the improvement, C the cells per sample; the gradient costs about
/// twice the value. Once a batch size q has been evaluated, further evaluations with that q
/// allocate nothing (tests/acquisition checks it with Eigen's malloc guard). Not thread-safe: the
/// object owns its workspaces; use one object per thread.
///
/// Example (maximize with bomf/optim; the object itself is the q = 1 objective):
///   auto models = bomf::fit_model_list_gp<bomf::Matern52Kernel>(X, Y);        // n × d, n × m
///   bomf::QLogNoisyExpectedHypervolumeImprovement<bomf::Matern52Kernel> acqf(models, X, ref);
///   Eigen::MatrixXd grad(2, d);
///   const double v = acqf.value_and_gradient(candidates /* 2 × d */, grad);
template <class Kernel>
class QLogNoisyExpectedHypervolumeImprovement {
 public:
  /// From m independent GPs (`models[k]` models objective k; they may have different training
  /// data), the baseline inputs `X_baseline` (n_b × d, original units, usually the training
  /// inputs; n_b = 0, or pruning every point away, leaves the single cell [r, ∞) per sample,
  /// i.e. qLogEHVI w.r.t. r) and the reference point `ref_point` (length m, objective space).
  /// Throws bomf::invalid_argument on bad shapes, non-finite values, m < 2 or m > 8, bad
  /// options, or (without injected base samples) (n_b + 1)·m > SobolSequence::max_dimension
  /// (3667, the Sobol table's limit); bomf::numerical_error if the baseline posterior covariance is
  /// not positive definite even with jitter 1e-6.
  QLogNoisyExpectedHypervolumeImprovement(const std::vector<ExactGP<Kernel>>& models,
                                          const Eigen::Ref<const Eigen::MatrixXd>& X_baseline,
                                          const Eigen::Ref<const Eigen::VectorXd>& ref_point,
                                          const QLogNehviOptions& options = QLogNehviOptions())
      : options_(options) {
    constexpr const char* where = "bomf::QLogNoisyExpectedHypervolumeImprovement";
    const auto m = static_cast<Eigen::Index>(models.size());
    detail::require(m >= 2 && m <= detail::kQnehviMaxM, where, "got ", m, " models, expected 2 to ",
                    detail::kQnehviMaxM, " (one per objective)");
    const Eigen::Index d = models.front().dim();
    for (Eigen::Index k = 0; k < m; ++k) {
      detail::require(models[static_cast<std::size_t>(k)].dim() == d, where, "model ", k,
                      " has input dimension ", models[static_cast<std::size_t>(k)].dim(),
                      ", model 0 has ", d);
    }
    detail::require_shape(ref_point, m, 1, where, "ref_point");
    detail::require_finite(ref_point, where, "ref_point");
    detail::require_shape(X_baseline, -1, d, where, "X_baseline");
    detail::require_finite(X_baseline, where, "X_baseline");
    const Eigen::Index n_pending = options.X_pending.rows();
    if (n_pending > 0) {
      detail::require_shape(options.X_pending, -1, d, where, "options.X_pending");
      detail::require_finite(options.X_pending, where, "options.X_pending");
    }
    const std::string invalid = options.validate();
    detail::require(invalid.empty(), where, "options.", invalid);
    const bool injected = options.base_samples_baseline.size() > 0;
    if (injected) {
      detail::require_shape(options.base_samples_baseline, options.num_samples,
                            (X_baseline.rows() + n_pending) * m, where,
                            "options.base_samples_baseline");
      detail::require_finite(options.base_samples_baseline, where, "options.base_samples_baseline");
    } else {
      detail::require((X_baseline.rows() + n_pending + 1) * m <= SobolSequence::max_dimension,
                      where, "X_baseline has ", X_baseline.rows(), " rows (and options.X_pending ",
                      n_pending, ") and there are ", m,
                      " objectives: the Sobol base samples need (n_b + q)·m ≤ ",
                      SobolSequence::max_dimension,
                      " dimensions (inject "
                      "options.base_samples_baseline, or use fewer baseline points)");
    }
    ref_point_ = ref_point;
    dim_ = d;
    objectives_.resize(static_cast<std::size_t>(m));
    for (Eigen::Index k = 0; k < m; ++k) {
      objectives_[static_cast<std::size_t>(k)].gp =
          detail::qnehvi_gp_pieces(models[static_cast<std::size_t>(k)]);
    }
    baseline_ = X_baseline;
    if (options.prune_baseline && X_baseline.rows() > 0) {
      baseline_ = prune(X_baseline);
    }
    if (n_pending > 0) {
      const Eigen::Index kept = baseline_.rows();
      baseline_.conservativeResize(kept + n_pending, d);
      baseline_.bottomRows(n_pending) = options.X_pending;
    }
    const Eigen::Index S = options.num_samples;
    const Eigen::Index nb = baseline_.rows();
    Eigen::MatrixXd z_base(S, 0);
    if (injected) {
      z_base = options.base_samples_baseline;
    } else if (nb > 0) {
      z_base = sobol_normal_samples(S, static_cast<int>(nb * m), options.seed);
    }
    std::vector<Eigen::MatrixXd> baseline_samples(static_cast<std::size_t>(m));
    detail::parallel_for(options.num_threads, m, [&](int, Eigen::Index k) {
      auto& obj = objectives_[static_cast<std::size_t>(k)];
      set_baseline(obj, baseline_);
      obj.Z_b.resize(S, nb);
      for (Eigen::Index i = 0; i < nb; ++i) {
        obj.Z_b.col(i) = z_base.col(i * m + k);
      }
      Eigen::MatrixXd f = obj.Z_b * obj.L_bb.transpose();
      f.rowwise() += obj.mean_b.transpose();
      baseline_samples[static_cast<std::size_t>(k)] = std::move(f);
    });
    cells_ = detail::qnehvi_build_cells(baseline_samples, ref_point_);
    if (screens_with_fewer_samples()) {  // the first samples' cells: each sample's are its own
      std::vector<Eigen::MatrixXd> first(static_cast<std::size_t>(m));
      for (Eigen::Index k = 0; k < m; ++k) {
        first[static_cast<std::size_t>(k)] =
            baseline_samples[static_cast<std::size_t>(k)].topRows(options.screening_samples);
      }
      screening_cells_ = detail::qnehvi_build_cells(first, ref_point_);
      screening_q1_.resize(screening_cells_, options.screening_samples, static_cast<int>(m));
    }
    baseline_samples_ = std::move(baseline_samples);
    injected_new_.resize(detail::kQnehviMaxQ + 1);
    drawn_new_.resize(detail::kQnehviMaxQ + 1);
  }

  /// As above from a ModelListGP (objective k is `models.model(k)`).
  QLogNoisyExpectedHypervolumeImprovement(const ModelListGP<Kernel>& models,
                                          const Eigen::Ref<const Eigen::MatrixXd>& X_baseline,
                                          const Eigen::Ref<const Eigen::VectorXd>& ref_point,
                                          const QLogNehviOptions& options = QLogNehviOptions())
      : QLogNoisyExpectedHypervolumeImprovement(models.models(), X_baseline, ref_point, options) {}

  /// Injects the base samples of the q new points, `z` of shape S × (q · m) (column j·m + k:
  /// candidate j, objective k — BoTorch's `base_samples[s, n_b + j, k]`); used by every later
  /// evaluation with batch size q = z.cols() / m. Without injection they are the q·m Sobol
  /// coordinates that follow the baseline's n_b·m in one joint sequence (as BoTorch): the
  /// columns n_b·m … (n_b + q)·m − 1 of sobol_normal_samples(S, (n_b + q)·m, seed), whose first
  /// n_b·m columns are the baseline's (SobolSequence's prefix property).
  void set_base_samples_new(const Eigen::Ref<const Eigen::MatrixXd>& z) {
    constexpr const char* where =
        "bomf::QLogNoisyExpectedHypervolumeImprovement::set_base_samples_new";
    const Eigen::Index m = num_objectives();
    detail::require(z.rows() == num_samples() && z.cols() % m == 0 && z.cols() >= m &&
                        z.cols() <= detail::kQnehviMaxQ * m,
                    where, "argument 'z' has shape ", z.rows(), "×", z.cols(), ", expected ",
                    num_samples(), "×(q·", m, ") with 1 ≤ q ≤ ", detail::kQnehviMaxQ);
    detail::require_finite(z, where, "z");
    const Eigen::Index q = z.cols() / m;
    injected_new_[static_cast<std::size_t>(q)] = z;
    if (q == q_) {
      q_ = 0;  // reload on the next evaluation
    }
  }

  /// qLogNEHVI at the q rows of `X` (q × d, original units, 1 ≤ q ≤ 6).
  /// Throws bomf::invalid_argument on a bad shape or non-finite X, or when the new points' base
  /// samples are not injected and (n_b + q)·m > SobolSequence::max_dimension (3667);
  /// bomf::numerical_error if the candidates' conditional covariance stays non-positive-definite
  /// with jitter 1e-3.
  double value(const Eigen::Ref<const Eigen::MatrixXd>& X) {
    return evaluate<false, Eigen::Map<Eigen::MatrixXd>>(X, nullptr);
  }

  /// qLogNEHVI at the q rows of `X` and its gradient ∂/∂X written into `grad` (q × d).
  double value_and_gradient(const Eigen::Ref<const Eigen::MatrixXd>& X,
                            Eigen::Ref<Eigen::MatrixXd> grad) {
    detail::require_shape(grad, X.rows(), X.cols(),
                          "bomf::QLogNoisyExpectedHypervolumeImprovement::value_and_gradient",
                          "grad");
    return evaluate<true>(X, &grad);
  }

  /// q = 1 adapter for the optimizers (bomf/optim/objective.hpp): value at `x` (length d) and
  /// its gradient written into `grad` (length d).
  double operator()(const Eigen::Ref<const Eigen::VectorXd>& x, Eigen::Ref<Eigen::VectorXd> grad) {
    detail::require_shape(x, dim_, 1, "bomf::QLogNoisyExpectedHypervolumeImprovement", "x");
    detail::require_shape(grad, dim_, 1, "bomf::QLogNoisyExpectedHypervolumeImprovement", "grad");
    const Eigen::Map<const Eigen::MatrixXd> X(x.data(), 1, dim_);
    Eigen::Map<Eigen::MatrixXd> G(grad.data(), 1, dim_);
    return evaluate<true>(X, &G);
  }

  /// Values (q = 1) at each row of `X` (n × d): the optimizers' batch screening, with the
  /// posterior samples of 16 candidates computed together (State::sample_q1: matrix products
  /// instead of matrix-vector ones). Each value is the one `value` gives for that row, bit for
  /// bit, whatever the other rows. Allocates the output and the block's samples (and the q = 1
  /// workspaces if another q was used last). Throws as `value`.
  Eigen::VectorXd batch_values(const Eigen::Ref<const Eigen::MatrixXd>& X) {
    return q1_values(X, num_samples(), cells_, q1_,
                     "bomf::QLogNoisyExpectedHypervolumeImprovement::batch_values");
  }

  /// The values with which the optimizers choose restarts among the rows of `X` (n × d; the
  /// objective concept of bomf/optim/objective.hpp): with options.screening_samples in [1, S),
  /// the q = 1 acquisition computed with the first screening_samples base samples only
  /// (`exact` false; each value is the same whatever the other rows); otherwise batch_values
  /// (`exact` true). Throws as `value`.
  ScreeningValues screening_values(const Eigen::Ref<const Eigen::MatrixXd>& X) {
    ScreeningValues out;
    if (!screens_with_fewer_samples()) {
      out.values = batch_values(X);
      return out;
    }
    out.values = q1_values(X, options_.screening_samples, screening_cells_, screening_q1_,
                           "bomf::QLogNoisyExpectedHypervolumeImprovement::screening_values");
    out.exact = false;
    return out;
  }

  /// Number of objectives m.
  Eigen::Index num_objectives() const noexcept {
    return static_cast<Eigen::Index>(objectives_.size());
  }
  /// Number of MC samples S.
  Eigen::Index num_samples() const noexcept { return options_.num_samples; }
  /// Input dimension d.
  Eigen::Index dim() const noexcept { return dim_; }
  /// The baseline points in use (n_b × d): after pruning when enabled, then the pending points.
  const Eigen::MatrixXd& baseline() const noexcept { return baseline_; }
  /// The reference point (length m).
  const Eigen::VectorXd& ref_point() const noexcept { return ref_point_; }
  /// The baseline posterior samples: entry k is S × n_b (objective k).
  const std::vector<Eigen::MatrixXd>& baseline_samples() const noexcept {
    return baseline_samples_;
  }
  /// Total number of box-decomposition cells over all samples (zero-volume cells dropped).
  Eigen::Index num_cells() const noexcept { return cells_.offsets.back(); }
  /// The sampled objective values of the last evaluated candidates: entry k is S × q.
  const std::vector<Eigen::MatrixXd>& last_samples() const noexcept { return F_; }
  /// Per-sample log hypervolume improvements of the last evaluation (length S).
  const Eigen::VectorXd& last_sample_log_improvements() const noexcept {
    return q_ == 1 ? q1_.sample_log : core_.sample_log;
  }

 private:
  using State = detail::QnehviObjectiveState<Kernel>;

  // The posterior mean (original scale) and the lower Cholesky factor of the posterior covariance
  // of one objective at the n points X, for the pruning. When X are the model's own training
  // inputs (the usual baseline), with A = K + σ²I = L Lᵀ (σ² including the fit's jitter):
  // K − K A⁻¹ K = σ²I − σ⁴ A⁻¹ and K α = ỹ − c − σ² α, so neither a kernel matrix nor the n × n
  // products of set_baseline are needed (A⁻¹ = L⁻ᵀ L⁻¹ costs n³/3 multiply-adds, against
  // 5n³/3). Otherwise set_baseline's. Throws numerical_error as set_baseline does.
  static void prune_posterior(const detail::QnehviGpPieces& gp, const Eigen::MatrixXd& X,
                              Eigen::VectorXd& mean, Eigen::MatrixXd& factor) {
    const Eigen::Index n = X.rows();
    if (gp.train_x.rows() != n || gp.train_x != X) {
      State tmp;
      tmp.gp = gp;
      set_baseline(tmp, X);
      mean = tmp.mean_b;
      factor = tmp.L_bb;
      return;
    }
    detail::qnehvi_posterior_at_training_inputs(gp, mean, factor);
    Eigen::VectorXd scratch;
    Eigen::MatrixXd copy;
    if (!detail::qnehvi_safe_cholesky_blocked(factor, copy, scratch, 3)) {
      throw numerical_error(detail::concat(
          "bomf::QLogNoisyExpectedHypervolumeImprovement: the posterior covariance of the ", n,
          " baseline points is not positive definite even with jitter 1e-6"));
    }
  }

  // Baseline quantities of one objective: scaled inputs, W, the posterior mean and the
  // Cholesky factor of the posterior covariance (gpytorch's psd_safe_cholesky, 3 tries).
  static void set_baseline(State& obj, const Eigen::MatrixXd& Xb) {
    const auto& gp = obj.gp;
    const Eigen::Index nb = Xb.rows();
    obj.z_base = ((Xb.rowwise() - gp.lower.transpose()) * gp.dz_dx.asDiagonal()).transpose();
    Eigen::MatrixXd k_tb(gp.z_train.cols(), nb);
    obj.kernel_block(gp.z_train, obj.z_base, k_tb, nullptr);
    obj.mean_b = ((k_tb.transpose() * gp.alpha).array() + gp.mean_constant) * gp.y_std + gp.y_mean;
    obj.W = k_tb;
    if (nb > 0) {  // Eigen's triangular solve does not accept an empty right-hand side
      gp.chol.template triangularView<Eigen::Lower>().solveInPlace(obj.W);
    }
    Eigen::MatrixXd K(nb, nb);
    obj.kernel_block(obj.z_base, obj.z_base, K, nullptr);
    K.noalias() -= obj.W.transpose() * obj.W;
    K *= gp.y_std * gp.y_std;
    Eigen::MatrixXd scratch(nb, nb);
    if (!detail::qnehvi_safe_cholesky(K, scratch, 3)) {
      throw numerical_error(detail::concat(
          "bomf::QLogNoisyExpectedHypervolumeImprovement: the posterior covariance of the ", nb,
          " baseline points is not positive definite even with jitter 1e-6"));
    }
    obj.L_bb = K;
    // For the q = 1 kernels (State::sample_q1).
    obj.W_t = obj.W.transpose();
    obj.inv_L_bb.resize(nb, nb);
    if (nb > 0) {
      Eigen::VectorXd work(detail::dense_inverse_scratch_size(nb));
      detail::triangular_inverse(nb, obj.L_bb.data(), nb, obj.inv_L_bb.data(), work.data());
    }
    obj.base.assign(obj.z_base);
  }

  // BoTorch's prune_inferior_points_multi_objective with our sampler.
  Eigen::MatrixXd prune(const Eigen::MatrixXd& X) {
    const Eigen::Index n = X.rows();
    const auto m = num_objectives();
    const Eigen::Index S = options_.prune_num_samples;
    // A seed of its own (fixed odd offset) so that pruning and evaluation do not share points.
    // The memo's matrix is read in place: objective k's columns are i·m + k, every m-th.
    const std::shared_ptr<const Eigen::MatrixXd> z = sobol_normal_samples_shared(
        S, static_cast<int>(n * m), options_.seed ^ 0x9E3779B97F4A7C15ULL);
    std::vector<Eigen::MatrixXd> factor(static_cast<std::size_t>(m));
    std::vector<Eigen::VectorXd> mean(static_cast<std::size_t>(m));
    detail::parallel_for(options_.num_threads, m, [&](int, Eigen::Index k) {
      prune_posterior(objectives_[static_cast<std::size_t>(k)].gp, X,
                      mean[static_cast<std::size_t>(k)], factor[static_cast<std::size_t>(k)]);
    });
    // Per sample: the points above the reference point that no other point dominates (equal
    // points do not dominate each other). A point that dominates one above the reference point
    // is above it too, so the sweep (detail::non_dominated_sweep) skips the others. The points
    // are visited in decreasing lexicographic order; as the samples scatter around the posterior
    // mean, each sample's order is re-sorted by insertion from the previous one's (starting from
    // the means' order in each block), nearly linear. Samples are split into fixed blocks whose
    // integer counts are summed in block order: the same counts on any number of threads.
    std::vector<int> mean_order(static_cast<std::size_t>(n));
    {
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows(n, m);
      for (Eigen::Index k = 0; k < m; ++k) {
        rows.col(k) = mean[static_cast<std::size_t>(k)];
      }
      std::iota(mean_order.begin(), mean_order.end(), 0);
      detail::insertion_sort_lexicographic(rows.data(), static_cast<int>(m), mean_order);
    }
    constexpr Eigen::Index kBlock = 128;
    const Eigen::Index num_blocks = (S + kBlock - 1) / kBlock;
    std::vector<Eigen::VectorXd> block_counts(static_cast<std::size_t>(num_blocks));
    detail::parallel_for(options_.num_threads, num_blocks, [&](int, Eigen::Index b) {
      const Eigen::Index s0 = b * kBlock;
      const Eigen::Index rows_b = std::min(S, s0 + kBlock) - s0;
      // The block's samples f = μ + z Lᵀ (column i of f[k]: objective k's samples at point i),
      // as a triangular product by column panels, each summing only over the L(i, t), t ≤ i,
      // that can be non-zero. Block by block rather than all S samples at once: the block stays
      // in cache for its sweeps, and no S × n buffer is allocated (and page-faulted) per call.
      // dense_update adds one term at a time in a fixed order, so the samples are bit for bit
      // those of the whole product.
      std::vector<Eigen::MatrixXd> f(static_cast<std::size_t>(m));
      Eigen::VectorXd scratch(detail::dense_scratch_size(n));
      for (Eigen::Index k = 0; k < m; ++k) {
        auto& fk = f[static_cast<std::size_t>(k)];
        fk.resize(rows_b, n);
        fk.rowwise() = mean[static_cast<std::size_t>(k)].transpose();
        const Eigen::MatrixXd& L = factor[static_cast<std::size_t>(k)];
        for (Eigen::Index i0 = 0; i0 < n; i0 += detail::kDensePanel) {
          const Eigen::Index i1 = std::min(n, i0 + detail::kDensePanel);
          detail::matrix_update<detail::kDenseTransB | detail::kDenseAdd>(
              rows_b, i1 - i0, i1, z->data() + k * S + s0, m * S, L.data() + i0, n,
              fk.data() + i0 * rows_b, rows_b, scratch.data());
        }
      }
      Eigen::VectorXd c = Eigen::VectorXd::Zero(n);
      Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows(n, m);
      std::vector<char> below(static_cast<std::size_t>(n));
      std::vector<char> mask(static_cast<std::size_t>(n));
      std::vector<int> order = mean_order;
      std::vector<int> front;
      for (Eigen::Index r = 0; r < rows_b; ++r) {
        for (Eigen::Index i = 0; i < n; ++i) {
          bool is_above = true;
          for (Eigen::Index k = 0; k < m; ++k) {
            const double v = f[static_cast<std::size_t>(k)](r, i);
            rows(i, k) = v;
            is_above = is_above && v > ref_point_(k);
          }
          below[static_cast<std::size_t>(i)] = is_above ? 0 : 1;
        }
        detail::insertion_sort_lexicographic(rows.data(), static_cast<int>(m), order);
        std::fill(mask.begin(), mask.end(), 0);
        detail::non_dominated_sweep(rows.data(), static_cast<int>(m), false, order, below.data(),
                                    mask, front);
        for (Eigen::Index i = 0; i < n; ++i) {
          if (mask[static_cast<std::size_t>(i)] != 0) {
            c(i) += 1.0;
          }
        }
      }
      block_counts[static_cast<std::size_t>(b)] = std::move(c);
    });
    Eigen::VectorXd counts = Eigen::VectorXd::Zero(n);
    for (const Eigen::VectorXd& c : block_counts) {
      counts += c;
    }
    std::vector<Eigen::Index> keep;
    for (Eigen::Index i = 0; i < n; ++i) {
      if (counts(i) > 0.0) {
        keep.push_back(i);
      }
    }
    const auto max_points =
        static_cast<std::size_t>(std::ceil(options_.prune_max_frac * static_cast<double>(n)));
    if (keep.size() > max_points) {
      std::stable_sort(keep.begin(), keep.end(),
                       [&](Eigen::Index a, Eigen::Index b) { return counts(a) > counts(b); });
      keep.resize(max_points);
      std::sort(keep.begin(), keep.end());
    }
    Eigen::MatrixXd out(static_cast<Eigen::Index>(keep.size()), X.cols());
    for (std::size_t i = 0; i < keep.size(); ++i) {
      out.row(static_cast<Eigen::Index>(i)) = X.row(keep[i]);
    }
    return out;
  }

  // q = 1 values at the rows of X with the first S base samples, their cells and a workspace
  // sized for them; 16 candidates' samples at a time (State::sample_q1).
  Eigen::VectorXd q1_values(const Eigen::Ref<const Eigen::MatrixXd>& X, Eigen::Index S,
                            const detail::QnehviCellSet& cells, detail::QnehviQ1Workspace& ws,
                            const char* where) {
    detail::require_shape(X, -1, dim_, where, "X");
    detail::require_finite(X, where, "X");
    prepare(1);
    const auto m = static_cast<int>(objectives_.size());
    Eigen::VectorXd out(X.rows());
    std::vector<Eigen::MatrixXd> block_samples(static_cast<std::size_t>(m));
    std::vector<char> ok;
    constexpr Eigen::Index kBlock = 16;
    for (Eigen::Index first = 0; first < X.rows(); first += kBlock) {
      const Eigen::Index rows = std::min(kBlock, X.rows() - first);
      for (int k = 0; k < m; ++k) {
        objectives_[static_cast<std::size_t>(k)].template sample_q1<false>(
            X.middleRows(first, rows), block_samples[static_cast<std::size_t>(k)], ok,
            sample_scratch_, S);
        for (Eigen::Index c = 0; c < rows; ++c) {
          if (ok[static_cast<std::size_t>(c)] == 0) {
            throw_not_positive_definite(1, k);
          }
        }
      }
      for (Eigen::Index c = 0; c < rows; ++c) {
        for (Eigen::Index s = 0; s < S; ++s) {
          for (int k = 0; k < m; ++k) {
            ws.y[static_cast<std::size_t>(s * m + k)] =
                block_samples[static_cast<std::size_t>(k)](s, c);
          }
        }
        out(first + c) = detail::qnehvi_q1_log_value<false>(cells, m, options_.tau_relu,
                                                            options_.tau_max, ws, nullptr);
      }
    }
    return out;
  }

  bool screens_with_fewer_samples() const noexcept {
    return options_.screening_samples >= 1 && options_.screening_samples < options_.num_samples;
  }

  // Sizes the workspaces and loads the new-point base samples for batch size q.
  void prepare(Eigen::Index q) {
    if (q == q_) {
      return;
    }
    const Eigen::Index S = num_samples();
    const Eigen::Index m = num_objectives();
    auto& cached = drawn_new_[static_cast<std::size_t>(q)];
    const auto& injected = injected_new_[static_cast<std::size_t>(q)];
    if (cached.size() == 0 && injected.size() == 0) {
      const Eigen::Index nb = baseline_.rows();
      detail::require((nb + q) * m <= SobolSequence::max_dimension,
                      "bomf::QLogNoisyExpectedHypervolumeImprovement", "with ", nb,
                      " baseline points, ", m, " objectives and q = ", q,
                      ", the Sobol base samples need (n_b + q)·m = ", (nb + q) * m, " > ",
                      SobolSequence::max_dimension,
                      " dimensions (inject them with set_base_samples_new, or use fewer "
                      "baseline points)");
      cached =
          sobol_normal_samples(S, static_cast<int>((nb + q) * m), options_.seed).rightCols(q * m);
    }
    const Eigen::MatrixXd& z = injected.size() > 0 ? injected : cached;
    F_.assign(static_cast<std::size_t>(m), Eigen::MatrixXd(S, q));
    dF_.assign(static_cast<std::size_t>(m), Eigen::MatrixXd(S, q));
    for (Eigen::Index k = 0; k < m; ++k) {
      auto& obj = objectives_[static_cast<std::size_t>(k)];
      obj.resize(q);
      obj.Z_n.resize(S, q);
      for (Eigen::Index j = 0; j < q; ++j) {
        obj.Z_n.col(j) = z.col(j * m + k);
      }
    }
    if (q == 1) {
      q1_.resize(cells_, S, static_cast<int>(m));
    } else {
      core_.resize(S, static_cast<int>(q), static_cast<int>(m), cells_.max_distinct);
    }
    q_ = q;
  }

  [[noreturn]] static void throw_not_positive_definite(Eigen::Index q, Eigen::Index k) {
    throw numerical_error(detail::concat(
        "bomf::QLogNoisyExpectedHypervolumeImprovement: the conditional covariance of the ", q,
        " candidates given the baseline is not positive definite even with jitter 1e-3 "
        "(objective ",
        k, ")"));
  }

  template <bool kGradient, class GradT = Eigen::Ref<Eigen::MatrixXd>>
  double evaluate(const Eigen::Ref<const Eigen::MatrixXd>& X, GradT* grad) {
    constexpr const char* where = "bomf::QLogNoisyExpectedHypervolumeImprovement";
    detail::require(X.rows() >= 1 && X.rows() <= detail::kQnehviMaxQ && X.cols() == dim_, where,
                    "argument 'X' has shape ", X.rows(), "×", X.cols(), ", expected q×", dim_,
                    " with 1 ≤ q ≤ ", detail::kQnehviMaxQ);
    detail::require_finite(X, where, "X");
    prepare(X.rows());
    for (std::size_t k = 0; k < objectives_.size(); ++k) {
      if (X.rows() == 1) {
        objectives_[k].template sample_q1<kGradient>(X, F_[k], ok_, sample_scratch_);
        if (ok_[0] == 0) {
          throw_not_positive_definite(1, static_cast<Eigen::Index>(k));
        }
      } else if (!objectives_[k].template sample<kGradient>(X, F_[k])) {
        throw_not_positive_definite(X.rows(), static_cast<Eigen::Index>(k));
      }
    }
    double v = 0.0;
    if (X.rows() == 1) {
      const auto m = static_cast<int>(objectives_.size());
      for (Eigen::Index s = 0; s < num_samples(); ++s) {
        for (int k = 0; k < m; ++k) {
          q1_.y[static_cast<std::size_t>(s * m + k)] = F_[static_cast<std::size_t>(k)](s, 0);
        }
      }
      v = detail::qnehvi_q1_log_value<kGradient>(cells_, m, options_.tau_relu, options_.tau_max,
                                                 q1_, &dF_);
    } else {
      v = detail::qnehvi_log_value<kGradient>(cells_, F_, options_.tau_relu, options_.tau_max,
                                              core_, &dF_);
    }
    if constexpr (kGradient) {
      grad->setZero();
      for (std::size_t k = 0; k < objectives_.size(); ++k) {
        objectives_[k].backward(dF_[k], *grad);
      }
    }
    return v;
  }

  QLogNehviOptions options_;
  Eigen::VectorXd ref_point_;
  Eigen::Index dim_ = 0;
  Eigen::MatrixXd baseline_;
  std::vector<State> objectives_;
  std::vector<Eigen::MatrixXd> baseline_samples_;
  detail::QnehviCellSet cells_;
  std::vector<Eigen::MatrixXd> injected_new_;  // per q: injected new-point base samples
  std::vector<Eigen::MatrixXd> drawn_new_;     // per q: our Sobol new-point base samples
  Eigen::Index q_ = 0;
  std::vector<Eigen::MatrixXd> F_;
  std::vector<Eigen::MatrixXd> dF_;
  detail::QnehviCoreWorkspace core_;
  detail::QnehviQ1Workspace q1_;
  detail::QnehviCellSet screening_cells_;   // the first screening_samples samples' cells
  detail::QnehviQ1Workspace screening_q1_;  // q = 1 workspace for them
  std::vector<char> ok_;            // q = 1: which candidates' conditional variance was positive
  Eigen::VectorXd sample_scratch_;  // q = 1: the sampling kernels' scratch
};

}  // namespace bomf
