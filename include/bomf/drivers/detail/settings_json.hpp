// bomf/drivers/detail/settings_json.hpp — the GP surrogate's settings as JSON, for the settings
// records that the drivers' journals compare on resume.
#pragma once

#include <nlohmann/json.hpp>

#include "bomf/gp/priors.hpp"

namespace bomf::detail {

/// A prior: its kind and parameters.
inline nlohmann::json prior_json(const Prior& p) {
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
inline nlohmann::json gp_priors_json(const GpPriors& priors) {
  return {
      {"lengthscale_prior", prior_json(priors.lengthscale)},
      {"outputscale_prior", prior_json(priors.outputscale)},
      {"noise_prior", prior_json(priors.noise)},
      {"use_outputscale", priors.use_outputscale},
      {"bounds",
       {priors.lengthscale_lower, priors.lengthscale_upper, priors.outputscale_lower,
        priors.outputscale_upper, priors.noise_lower, priors.noise_upper}},
      {"initial", {priors.lengthscale_initial, priors.outputscale_initial, priors.noise_initial}}};
}

}  // namespace bomf::detail
