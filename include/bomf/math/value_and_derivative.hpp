// bomf/math/value_and_derivative.hpp — a function value returned together with its derivatives.
#pragma once

namespace bomf {

/// f(x) and f'(x) of a scalar function, returned together by the `*_with_derivative` helpers in
/// bomf/math/ so that a reverse-mode chain rule (or a hand-written gradient) can use the
/// numerically stable derivative instead of differentiating the stable formula's branches.
struct ValueAndDerivative {
  double value;       ///< f(x)
  double derivative;  ///< df/dx at x
};

/// f(a, b) and its two partial derivatives, returned by the binary `*_with_partials` helpers.
struct ValueAndPartials {
  double value;  ///< f(a, b)
  double d_a;    ///< ∂f/∂a
  double d_b;    ///< ∂f/∂b
};

}  // namespace bomf
