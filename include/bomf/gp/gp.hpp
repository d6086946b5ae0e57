// bomf/gp/gp.hpp — everything of the GP module: kernels, exact GPs, priors, fitting, model lists.
#pragma once

#include "bomf/gp/ard_kernel.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/gp_hyperparameters.hpp"
#include "bomf/gp/input_normalization.hpp"
#include "bomf/gp/kernel_traits.hpp"
#include "bomf/gp/marginal_likelihood.hpp"
#include "bomf/gp/matern32_kernel.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/model_list_gp.hpp"
#include "bomf/gp/outcome_standardization.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/gp/rbf_kernel.hpp"
