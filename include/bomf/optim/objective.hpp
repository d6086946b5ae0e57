// bomf/optim/objective.hpp — what the acquisition optimizers ask of the function they maximize.
//
// An objective is any callable (lambda, functor) with the signature
//
//   double f(const Eigen::Ref<const Eigen::VectorXd>& x, Eigen::Ref<Eigen::VectorXd> grad);
//
// that returns the value at `x` (length d) and writes the gradient ∂f/∂x (length d) into
// `grad`. The optimizers *maximize* it (BoTorch's convention for acquisition functions).
//
// Optionally the type can also evaluate many points at once, values only, for the raw-candidate
// screening (BoTorch's `gen_batch_initial_conditions` evaluates 512+ points this way):
//
//   Eigen::VectorXd batch_values(const Eigen::Ref<const Eigen::MatrixXd>& X) const;  // X: n × d
//
// If it does not, the screening calls `f(x, grad)` point by point and discards the gradients.
//
// A type may instead provide values that only rank the candidates, cheaper than f and not
// necessarily equal to it (qLogNEHVI with `QLogNehviOptions::screening_samples`):
//
//   bomf::ScreeningValues screening_values(const Eigen::Ref<const Eigen::MatrixXd>& X);
//
// The optimizers then use them to choose the restarts, and where `exact` is false they never
// report a screened value as the result: the value they return is always one f computed.
// The requirements are checked at compile time (as ensmallen's static checks) with a message that
// names the missing piece.
#pragma once

#include <Eigen/Core>
#include <type_traits>
#include <utility>

namespace bomf {

/// What an objective's optional `screening_values` returns: one value per candidate row, and
/// whether they are f's own values (`exact`) or approximations that only rank the candidates.
struct ScreeningValues {
  Eigen::VectorXd values;
  bool exact = true;
};

/// True when `F&` can be called as `double(const Eigen::Ref<const Eigen::VectorXd>&,
/// Eigen::Ref<Eigen::VectorXd>)`: a value-and-gradient objective for the optimizers in optim/.
template <class F>
inline constexpr bool is_differentiable_objective_v =
    std::is_invocable_r_v<double, F&, const Eigen::Ref<const Eigen::VectorXd>&,
                          Eigen::Ref<Eigen::VectorXd>>;

namespace detail {

template <class F, class = void>
struct has_batch_values : std::false_type {};

template <class F>
struct has_batch_values<F, std::void_t<decltype(std::declval<F&>().batch_values(
                               std::declval<const Eigen::Ref<const Eigen::MatrixXd>&>()))>>
    : std::is_convertible<decltype(std::declval<F&>().batch_values(
                              std::declval<const Eigen::Ref<const Eigen::MatrixXd>&>())),
                          Eigen::VectorXd> {};

template <class F, class = void>
struct has_screening_values : std::false_type {};

template <class F>
struct has_screening_values<F, std::void_t<decltype(std::declval<F&>().screening_values(
                                   std::declval<const Eigen::Ref<const Eigen::MatrixXd>&>()))>>
    : std::is_convertible<decltype(std::declval<F&>().screening_values(
                              std::declval<const Eigen::Ref<const Eigen::MatrixXd>&>())),
                          ScreeningValues> {};

/// Compile-time check used by every optimizer entry point.
template <class F>
constexpr void check_differentiable_objective() {
  static_assert(is_differentiable_objective_v<F>,
                "bomf optimizer: the objective must be callable as "
                "`double f(const Eigen::Ref<const Eigen::VectorXd>& x, "
                "Eigen::Ref<Eigen::VectorXd> grad)`, returning the value at x and writing the "
                "gradient into grad (see bomf/optim/objective.hpp)");
}

/// Values of `f` at the rows of `X` (n × d): `f.batch_values(X)` when the type provides it,
/// otherwise n calls of `f(x, grad)`. `calls` is increased by the number of points evaluated.
template <class F>
Eigen::VectorXd evaluate_values(F& f, const Eigen::MatrixXd& X, long& calls) {
  calls += static_cast<long>(X.rows());
  if constexpr (has_batch_values<F>::value) {
    Eigen::VectorXd values = f.batch_values(X);
    return values;
  } else {
    Eigen::VectorXd values(X.rows());
    Eigen::VectorXd grad(X.cols());
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
      // A row is strided; the const Ref copies it into its own contiguous storage.
      const Eigen::Ref<const Eigen::VectorXd> x(X.row(i).transpose());
      values(i) = f(x, grad);
    }
    return values;
  }
}

/// The values that choose restarts among the rows of `X`: `f.screening_values(X)` when the type
/// provides it, otherwise f's own values (evaluate_values, exact). `calls` is increased by the
/// number of points screened.
template <class F>
ScreeningValues screen_values(F& f, const Eigen::MatrixXd& X, long& calls) {
  if constexpr (has_screening_values<F>::value) {
    calls += static_cast<long>(X.rows());
    ScreeningValues screened = f.screening_values(X);
    return screened;
  } else {
    ScreeningValues screened;
    screened.values = evaluate_values(f, X, calls);
    return screened;
  }
}

}  // namespace detail
}  // namespace bomf
