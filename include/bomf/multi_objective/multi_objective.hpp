// bomf/multi_objective/multi_objective.hpp — the multi-objective geometry module in one include:
// Pareto filtering and sorting, exact hypervolume, box decompositions (BoTorch's
// FastNondominatedPartitioning / DominatedPartitioning) and hypervolume improvement.
#pragma once

#include "bomf/multi_objective/box_decomposition.hpp"
#include "bomf/multi_objective/hypervolume.hpp"
#include "bomf/multi_objective/hypervolume_improvement.hpp"
#include "bomf/multi_objective/pareto.hpp"
