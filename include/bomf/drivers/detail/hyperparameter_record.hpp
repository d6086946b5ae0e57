// bomf/drivers/detail/hyperparameter_record.hpp — the JSON of the stage-1 journal: the search
// space of the header, and the trajectories of the run records (not a public header).
//
// Run record (one JSON line, plus the journal's own "seq" and "crc"):
//   {"kind": "run", "index": i, "proposal": "initial" | "acquisition" | "fallback" | "external",
//    "status": "ok" | "failed", "setting": [...], "hyperparameters": "name=value …",
//    "score": s | null, "best_step": b | null, "trajectory": {...} | null,
//    "seconds": {"fit", "acquisition", "train"}, "error": "…" (failed runs),
//    "rejected_trajectory": {...} (a trajectory observe refused, kept for the record)}
// with trajectory {"total_steps", "steps": [...], "loss": [...], "metrics": [[...], …],
// "checkpoints": [...]}.
#pragma once

#include <cmath>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "bomf/drivers/detail/json_values.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "bomf/optim/search_space.hpp"

namespace bomf::detail {

/// The dimensions of a search space (names, kinds, scales, bounds, choices).
inline nlohmann::json search_space_json(const SearchSpace& space) {
  nlohmann::json dims = nlohmann::json::array();
  for (const Dimension& d : space.dimensions()) {
    nlohmann::json j;
    j["name"] = d.name;
    switch (d.kind) {
      case DimensionKind::continuous:
        j["kind"] = "continuous";
        j["scale"] = d.scale == Scale::log ? "log" : "linear";
        j["lower"] = d.lower;
        j["upper"] = d.upper;
        break;
      case DimensionKind::integer:
        j["kind"] = "integer";
        j["lower"] = static_cast<long long>(d.lower);
        j["upper"] = static_cast<long long>(d.upper);
        break;
      case DimensionKind::categorical:
        j["kind"] = "categorical";
        j["choices"] = d.choices;
        break;
    }
    dims.push_back(std::move(j));
  }
  return dims;
}

/// A trajectory as JSON (non-finite values as null).
inline nlohmann::json trajectory_json(const TrainingTrajectory& t) {
  nlohmann::json steps = nlohmann::json::array();
  nlohmann::json loss = nlohmann::json::array();
  nlohmann::json metrics = nlohmann::json::array();
  for (const TrajectoryPoint& p : t.points) {
    steps.push_back(p.step);
    loss.push_back(json_number(p.loss));
    metrics.push_back(json_from_vector(p.metrics));
  }
  return {{"total_steps", t.total_steps},
          {"steps", std::move(steps)},
          {"loss", std::move(loss)},
          {"metrics", std::move(metrics)},
          {"checkpoints", t.checkpoint_steps}};
}

/// The trajectory of field `j` of a run record with K = `num_metrics` metrics, validated;
/// failures are reported through `in` (the record's reader).
inline TrainingTrajectory trajectory_from_json(const RecordReader& in, const nlohmann::json& j,
                                               std::size_t num_metrics) {
  if (!j.is_object())
    in.fail("'trajectory' is not an object");
  TrainingTrajectory t;
  t.total_steps = in.integer(in.field(j, "total_steps"), "total_steps");
  const nlohmann::json& steps = in.field(j, "steps");
  const nlohmann::json& loss = in.field(j, "loss");
  const nlohmann::json& metrics = in.field(j, "metrics");
  const nlohmann::json& checkpoints = in.field(j, "checkpoints");
  if (!steps.is_array() || !loss.is_array() || !metrics.is_array() || !checkpoints.is_array() ||
      loss.size() != steps.size() || metrics.size() != steps.size()) {
    in.fail("'trajectory' has arrays of different lengths");
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    t.add(in.integer(steps[i], "steps"), in.number(loss[i], "loss"),
          in.vector(metrics[i], "trajectory metrics", static_cast<Eigen::Index>(num_metrics)));
  }
  for (const nlohmann::json& c : checkpoints) {
    t.checkpoint_steps.push_back(in.integer(c, "checkpoints"));
  }
  try {
    t.validate(num_metrics, "trajectory");
  } catch (const invalid_argument& e) {
    in.fail(e.what());
  }
  return t;
}

}  // namespace bomf::detail
