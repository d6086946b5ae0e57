// bomf/math/math.hpp — everything of the math module: erfcx, the normal distribution, log h,
// log-space helpers and the fat-tailed smooth approximations, each with derivatives.
#pragma once

#include "bomf/math/erfcx.hpp"
#include "bomf/math/log_h.hpp"
#include "bomf/math/normal.hpp"
#include "bomf/math/safe_math.hpp"
#include "bomf/math/smooth_approximations.hpp"
#include "bomf/math/value_and_derivative.hpp"
