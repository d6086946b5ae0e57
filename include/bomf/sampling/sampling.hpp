// bomf/sampling/sampling.hpp — everything of the sampling module: scrambled Sobol sequences and
// quasi-Monte-Carlo normal base samples.
#pragma once

#include "bomf/sampling/normal_base_samples.hpp"
#include "bomf/sampling/sobol_sequence.hpp"
