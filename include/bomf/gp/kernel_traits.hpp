// bomf/gp/kernel_traits.hpp — what a kernel type must provide to be used by ExactGP<Kernel>.
//
// bomf's kernels are stationary and use automatic relevance determination (ARD): the covariance of
// two points x, x' (in the unit cube, after input normalization) is
//
//     k(x, x') = s · κ(r²),     r² = Σ_k (x_k − x'_k)² / ℓ_k²,
//
// with per-dimension lengthscales ℓ (`GpHyperparameters::lengthscales`) and output scale s
// (`GpHyperparameters::outputscale`, fixed at 1 for a kernel "without output scale"). A kernel
// type only supplies the radial profile κ, as static functions of the squared scaled distance
// r²; everything else (ARD scaling, output scale, cross-covariances, gradients with respect to the
// inputs and to the hyperparameters) is generic. The kernel is a template parameter of ExactGP:
// no virtual dispatch in the hot path.
//
// A user-supplied kernel must look like
//
//     struct MyKernel {
//       static constexpr const char* name = "MyKernel";  // used in messages and benchmarks
//       static double value(double r2) noexcept;         // κ(r²); κ(0)·s is the prior variance
//       static double derivative(double r2) noexcept;    // dκ/d(r²), finite at r² = 0
//       // optional: both at once, sharing their transcendental functions; must equal
//       // {value(r2), derivative(r2)} bit for bit (the fit and the acquisition gradients use it)
//       static ValueAndDerivative value_and_derivative(double r2) noexcept;
//       // optional: the same on a pack of r² (bomf/math/simd.hpp; r2 becomes κ), for the GP
//       // fit's kernel matrices; without it the fit calls value_and_derivative lane by lane
//       template <class V> static void value_and_derivative_packed(V& r2, V& derivative);
//     };
//
// `bomf::check_kernel<K>()` verifies this at compile time with one readable static_assert per
// missing member (in the manner of ensmallen's static_checks); ExactGP<K> calls it, so a kernel
// lacking e.g. `derivative` fails with
//     "bomf: kernel type lacks `static double derivative(double r2)` (dκ/d(r²)) ..."
// rather than with a page of template errors. tests/gp/CMakeLists.txt has a compile-failure
// test (gp_kernel_static_assert) that checks this message.
#pragma once

#include <type_traits>
#include <utility>

#include "bomf/math/simd.hpp"
#include "bomf/math/value_and_derivative.hpp"

namespace bomf {
namespace detail {

template <class K, class = void>
struct kernel_has_value : std::false_type {};
template <class K>
struct kernel_has_value<K, std::void_t<decltype(K::value(std::declval<double>()))>>
    : std::is_convertible<decltype(K::value(std::declval<double>())), double> {};

template <class K, class = void>
struct kernel_has_derivative : std::false_type {};
template <class K>
struct kernel_has_derivative<K, std::void_t<decltype(K::derivative(std::declval<double>()))>>
    : std::is_convertible<decltype(K::derivative(std::declval<double>())), double> {};

template <class K, class = void>
struct kernel_has_name : std::false_type {};
template <class K>
struct kernel_has_name<K, std::void_t<decltype(K::name)>>
    : std::is_convertible<decltype(K::name), const char*> {};

template <class K, class = void>
struct kernel_has_value_and_derivative : std::false_type {};
template <class K>
struct kernel_has_value_and_derivative<
    K, std::void_t<decltype(K::value_and_derivative(std::declval<double>()))>>
    : std::is_convertible<decltype(K::value_and_derivative(std::declval<double>())),
                          ValueAndDerivative> {};

template <class K, class = void>
struct kernel_has_packed : std::false_type {};
template <class K>
struct kernel_has_packed<K,
                         std::void_t<decltype(K::template value_and_derivative_packed<simd::pack2>(
                             std::declval<simd::pack2&>(), std::declval<simd::pack2&>()))>>
    : std::true_type {};

/// κ and dκ/d(r²) of kernel `K` on a pack of r² (r2 becomes κ): K's value_and_derivative_packed
/// when it has one, else kernel_value_and_derivative lane by lane.
template <class K, class V>
BOMF_SIMD_INLINE void kernel_value_and_derivative_packed(V& r2, V& derivative) noexcept;

}  // namespace detail

/// κ(r²) and dκ/d(r²) of kernel `K` together: its `value_and_derivative` when it has one (one
/// exponential instead of two), its `value` and `derivative` otherwise.
template <class K>
ValueAndDerivative kernel_value_and_derivative(double r2) noexcept {
  if constexpr (detail::kernel_has_value_and_derivative<K>::value) {
    return K::value_and_derivative(r2);
  } else {
    return {K::value(r2), K::derivative(r2)};
  }
}

namespace detail {
template <class K, class V>
BOMF_SIMD_INLINE void kernel_value_and_derivative_packed(V& r2, V& derivative) noexcept {
  if constexpr (kernel_has_packed<K>::value) {
    K::template value_and_derivative_packed<V>(r2, derivative);
  } else {
    for (int j = 0; j < simd::pack_traits<V>::lanes; ++j) {
      const ValueAndDerivative kappa = kernel_value_and_derivative<K>(r2[j]);
      r2[j] = kappa.value;
      derivative[j] = kappa.derivative;
    }
  }
}
}  // namespace detail

/// Compile-time description of a kernel type `K` (see the file comment for the requirements).
template <class K>
struct kernel_traits {
  /// `static double K::value(double r2)` exists.
  static constexpr bool has_value = detail::kernel_has_value<K>::value;
  /// `static double K::derivative(double r2)` exists.
  static constexpr bool has_derivative = detail::kernel_has_derivative<K>::value;
  /// `static constexpr const char* K::name` exists.
  static constexpr bool has_name = detail::kernel_has_name<K>::value;
  /// All requirements hold.
  static constexpr bool is_kernel = has_value && has_derivative && has_name;
};

/// Fails compilation with a message naming the missing member when `K` is not a valid kernel
/// type; returns true otherwise. Used as `static_assert(check_kernel<K>())`.
template <class K>
constexpr bool check_kernel() {
  static_assert(kernel_traits<K>::has_value,
                "bomf: kernel type lacks `static double value(double r2)` (the radial profile "
                "κ(r²) of the squared scaled distance); see include/bomf/gp/kernel_traits.hpp");
  static_assert(kernel_traits<K>::has_derivative,
                "bomf: kernel type lacks `static double derivative(double r2)` (dκ/d(r²), needed "
                "for posterior gradients and hyperparameter fitting); see "
                "include/bomf/gp/kernel_traits.hpp");
  static_assert(kernel_traits<K>::has_name,
                "bomf: kernel type lacks `static constexpr const char* name`; see "
                "include/bomf/gp/kernel_traits.hpp");
  return kernel_traits<K>::is_kernel;
}

}  // namespace bomf
