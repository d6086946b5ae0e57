// bomf/drivers/detail/options_json.hpp — the settings of the core's building blocks as JSON, for
// the settings records that the drivers' journals compare on resume (a journal written with other
// settings would make other proposals, so it is refused, naming the differing setting).
//
// Only settings that change the proposals are written: thread counts (results are bit-identical
// for any number) and seeds (derived per step from the search's own seed) are left out.
#pragma once

#include <nlohmann/json.hpp>

#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "bomf/optim/simplex_refine.hpp"

namespace bomf::detail {

/// A prior: its kind and parameters.
inline nlohmann::json options_json(const Prior& p) {
  switch (p.kind()) {
    case Prior::Kind::gamma:
      return {{"kind", "gamma"}, {"concentration", p.first()}, {"rate", p.second()}};
    case Prior::Kind::log_normal:
      return {{"kind", "log_normal"}, {"loc", p.first()}, {"scale", p.second()}};
    case Prior::Kind::none:
      break;
  }
  return {{"kind", "none"}};
}

/// Every field of `priors`: the three priors, the output-scale switch, the bounds and the
/// initial values.
inline nlohmann::json options_json(const GpPriors& priors) {
  return {
      {"lengthscale_prior", options_json(priors.lengthscale)},
      {"outputscale_prior", options_json(priors.outputscale)},
      {"noise_prior", options_json(priors.noise)},
      {"use_outputscale", priors.use_outputscale},
      {"bounds",
       {priors.lengthscale_lower, priors.lengthscale_upper, priors.outputscale_lower,
        priors.outputscale_upper, priors.noise_lower, priors.noise_upper}},
      {"initial", {priors.lengthscale_initial, priors.outputscale_initial, priors.noise_initial}}};
}

/// j[key] = value, unless value is `default_value`: for a setting added after journals were first
/// written, so that those journals (written with its default, which they do not record) still
/// resume, while a journal written with another value refuses the default and the other way round.
template <class T>
void record_unless_default(nlohmann::json& j, const char* key, const T& value,
                           const T& default_value) {
  if (value != default_value) {
    j[key] = value;
  }
}

/// GP fitting with `priors` resolved by the caller (the drivers' default differs from fit_gp's).
inline nlohmann::json options_json(const GpFitOptions& o, const GpPriors& priors,
                                   const char* kernel) {
  nlohmann::json j = {
      {"kernel", kernel},
      {"priors", options_json(priors)},
      {"input_transform_identity", o.input_transform.is_identity()},
      {"standardize", o.standardize},
      {"fixed_noise", o.fixed_noise ? nlohmann::json(*o.fixed_noise) : nlohmann::json()},
      {"num_starts", o.num_starts},
      {"max_iterations", o.max_iterations},
      {"gradient_tolerance", o.gradient_tolerance},
      {"relative_tolerance", o.relative_tolerance}};
  record_unless_default(j, "lbfgs_memory", o.lbfgs_memory, GpFitOptions().lbfgs_memory);
  return j;
}

/// qLogNEHVI's scalar settings.
inline nlohmann::json options_json(const QLogNehviOptions& o) {
  nlohmann::json j = {{"num_samples", o.num_samples},
                      {"tau_relu", o.tau_relu},
                      {"tau_max", o.tau_max},
                      {"prune_baseline", o.prune_baseline},
                      {"prune_num_samples", o.prune_num_samples},
                      {"prune_max_frac", o.prune_max_frac}};
  record_unless_default(j, "screening_samples", o.screening_samples,
                        QLogNehviOptions().screening_samples);
  return j;
}

/// The local refinement on the simplex.
inline nlohmann::json options_json(const SimplexRefineOptions& r) {
  return {{"max_iterations", r.max_iterations},
          {"max_evaluations", r.max_evaluations},
          {"gradient_tolerance", r.gradient_tolerance},
          {"value_tolerance", r.value_tolerance},
          {"patience", r.patience},
          {"nonmonotone_memory", r.nonmonotone_memory},
          {"armijo", r.armijo},
          {"min_step", r.min_step},
          {"max_step", r.max_step},
          {"lbfgs_memory", r.lbfgs_memory},
          {"max_line_search", r.max_line_search}};
}

/// The name of a simplex refiner.
inline const char* refiner_name(SimplexRefiner r) {
  switch (r) {
    case SimplexRefiner::spectral_projected_gradient:
      return "spectral_projected_gradient";
    case SimplexRefiner::exponentiated_gradient:
      return "exponentiated_gradient";
    case SimplexRefiner::active_set_lbfgs:
      break;
  }
  return "active_set_lbfgs";
}

/// The acquisition maximizer on the simplex (its best_points are the search's own).
inline nlohmann::json options_json(const SimplexOptimizerOptions& o) {
  return {{"raw_samples", o.raw_samples},
          {"num_restarts", o.num_restarts},
          {"eta", o.eta},
          {"include_vertices", o.include_vertices},
          {"include_barycentre", o.include_barycentre},
          {"num_near_best", o.num_near_best},
          {"near_best_sigma", o.near_best_sigma},
          {"num_face_points", o.num_face_points},
          {"refiner", refiner_name(o.refiner)},
          {"refine", options_json(o.refine)}};
}

/// The acquisition maximizer in the box.
inline nlohmann::json options_json(const BoxOptimizerOptions& b) {
  return {{"raw_samples", b.raw_samples},
          {"num_restarts", b.num_restarts},
          {"eta", b.eta},
          {"max_enumerated_combinations", b.max_enumerated_combinations},
          {"max_iterations", b.max_iterations},
          {"memory", b.memory},
          {"gradient_tolerance", b.gradient_tolerance},
          {"value_tolerance", b.value_tolerance}};
}

}  // namespace bomf::detail
