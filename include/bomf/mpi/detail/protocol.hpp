// bomf/mpi/detail/protocol.hpp — the messages of bomf::mpi (version 1), rank 0 ↔ worker ranks.
//
//   hello    worker → 0   magic, version, service (fusion | training), then either the
//                         problem's description or why the rank cannot serve
//   evaluate 0 → worker   id, δ                                  → result: loss, metrics
//   gradient 0 → worker   id, δ                                  → result: loss, ∂loss/∂δ
//   train    0 → worker   id, setting, the TrainingContext       → result: the trajectory
//   shutdown 0 → worker   whether rank 0 ended normally, and why not
//   result   worker → 0   id, ok, seconds, then the payload (ok) or the error message
// Every worker sends its hello first; rank 0 checks that all describe the same problem.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bomf/drivers/fusion_problem.hpp"
#include "bomf/drivers/member_selection.hpp"
#include "bomf/drivers/objectives.hpp"
#include "bomf/drivers/training_problem.hpp"
#include "bomf/mpi/detail/message.hpp"
#include "bomf/optim/search_space.hpp"

namespace bomf::mpi::detail {

constexpr std::uint64_t protocol_magic = 0x69706d2e666d6f62ULL;  // "bomf.mpi", little-endian
constexpr std::uint32_t protocol_version = 1;

/// What a worker rank serves.
enum class Service : std::uint8_t { fusion = 1, training = 2 };

inline const char* to_string(Service s) {
  return s == Service::fusion ? "a fusion problem (bomf::mpi::serve(FusionProblem&))"
                              : "a training problem (bomf::mpi::serve(TrainingProblem&))";
}

inline void put_metrics(Writer& w, const std::vector<MetricSpec>& metrics) {
  w.put<std::uint64_t>(metrics.size());
  for (const MetricSpec& m : metrics) {
    w.put_string(m.name).put<std::uint8_t>(m.direction == Direction::maximize ? 1 : 0);
  }
}

inline std::vector<MetricSpec> get_metrics(Reader& r) {
  const auto k = r.get<std::uint64_t>();
  std::vector<MetricSpec> metrics;
  for (std::uint64_t i = 0; i < k; ++i) {
    MetricSpec m;
    m.name = r.get_string();
    m.direction = r.get<std::uint8_t>() != 0 ? Direction::maximize : Direction::minimize;
    metrics.push_back(std::move(m));
  }
  return metrics;
}

inline std::string describe_metrics(const std::vector<MetricSpec>& metrics) {
  std::string out;
  for (const MetricSpec& m : metrics) {
    out += (out.empty() ? "" : ", ") + m.name + " (" + bomf::to_string(m.direction) + ")";
  }
  return out;
}

/// What rank 0 learns about a worker's fusion problem.
struct FusionDescription {
  int num_members = 0;
  FusionObjectives objectives;
  std::string fingerprint;
  bool has_loss_gradient = false;

  static FusionDescription of(const FusionProblem& problem) {
    return {problem.num_members(), problem.objectives(), problem.fingerprint(),
            problem.has_loss_gradient()};
  }
  void write(Writer& w) const {
    w.put<std::int32_t>(num_members).put_string(objectives.loss_name);
    put_metrics(w, objectives.metrics);
    w.put_string(fingerprint).put<std::uint8_t>(has_loss_gradient ? 1 : 0);
  }
  static FusionDescription read(Reader& r) {
    FusionDescription d;
    d.num_members = r.get<std::int32_t>();
    d.objectives.loss_name = r.get_string();
    d.objectives.metrics = get_metrics(r);
    d.fingerprint = r.get_string();
    d.has_loss_gradient = r.get<std::uint8_t>() != 0;
    return d;
  }
  [[nodiscard]] std::string to_string() const {
    return bomf::detail::concat("N = ", num_members, ", loss '", objectives.loss_name,
                                "', metrics ", describe_metrics(objectives.metrics),
                                ", fingerprint '", fingerprint, "', loss gradient ",
                                has_loss_gradient ? "yes" : "no");
  }
};

/// What rank 0 learns about a worker's training problem.
struct TrainingDescription {
  SearchSpace space;
  std::vector<MetricSpec> metrics;
  std::string fingerprint;

  static TrainingDescription of(const TrainingProblem& problem) {
    return {problem.search_space(), problem.metrics(), problem.fingerprint()};
  }
  void write(Writer& w) const {
    w.put<std::uint64_t>(space.dimensions().size());
    for (const Dimension& d : space.dimensions()) {
      w.put_string(d.name)
          .put<std::uint8_t>(static_cast<std::uint8_t>(d.kind))
          .put<std::uint8_t>(static_cast<std::uint8_t>(d.scale))
          .put<double>(d.lower)
          .put<double>(d.upper)
          .put<std::uint64_t>(d.choices.size());
      for (const std::string& c : d.choices) {
        w.put_string(c);
      }
    }
    put_metrics(w, metrics);
    w.put_string(fingerprint);
  }
  static TrainingDescription read(Reader& r) {
    TrainingDescription d;
    const auto dims = r.get<std::uint64_t>();
    for (std::uint64_t i = 0; i < dims; ++i) {
      std::string name = r.get_string();
      const auto kind = r.get<std::uint8_t>();
      const auto scale = r.get<std::uint8_t>();
      const auto lower = r.get<double>();
      const auto upper = r.get<double>();
      const auto num_choices = r.get<std::uint64_t>();
      std::vector<std::string> choices;
      for (std::uint64_t c = 0; c < num_choices; ++c) {
        choices.push_back(r.get_string());
      }
      if (kind == static_cast<std::uint8_t>(DimensionKind::continuous)) {
        d.space.add_continuous(
            std::move(name), lower, upper,
            scale == static_cast<std::uint8_t>(Scale::log) ? Scale::log : Scale::linear);
      } else if (kind == static_cast<std::uint8_t>(DimensionKind::integer)) {
        d.space.add_integer(std::move(name), static_cast<long long>(lower),
                            static_cast<long long>(upper));
      } else if (kind == static_cast<std::uint8_t>(DimensionKind::categorical)) {
        d.space.add_categorical(std::move(name), std::move(choices));
      } else {
        throw protocol_error(bomf::detail::concat("bomf::mpi: ", r.what(), " has dimension '", name,
                                                  "' of unknown kind ", int{kind}));
      }
    }
    d.metrics = get_metrics(r);
    d.fingerprint = r.get_string();
    return d;
  }
  [[nodiscard]] std::string to_string() const {
    std::string dims;
    for (const Dimension& d : space.dimensions()) {
      dims += (dims.empty() ? "" : ", ") + d.name;
      if (d.kind == DimensionKind::categorical) {
        dims += " {";
        for (std::size_t c = 0; c < d.choices.size(); ++c) {
          dims += (c == 0 ? "" : ", ") + d.choices[c];
        }
        dims += "}";
      } else {
        dims +=
            bomf::detail::concat(d.kind == DimensionKind::integer ? " integer [" : " [", d.lower,
                                 ", ", d.upper, "]", d.scale == Scale::log ? " log" : "");
      }
    }
    return bomf::detail::concat("space ", dims, "; metrics ", describe_metrics(metrics),
                                "; fingerprint '", fingerprint, "'");
  }
};

/// The hello message: `description` holds the serialized description when the rank can serve,
/// `refusal` why it cannot otherwise.
struct Hello {
  Service service = Service::fusion;
  bool ok = true;
  Bytes description;
  std::string refusal;

  [[nodiscard]] Bytes encode() const {
    Writer w;
    w.put<std::uint64_t>(protocol_magic)
        .put<std::uint32_t>(protocol_version)
        .put<std::uint8_t>(static_cast<std::uint8_t>(service))
        .put<std::uint8_t>(ok ? 1 : 0);
    Bytes out = w.take();
    if (ok) {
      out.insert(out.end(), description.begin(), description.end());
    } else {
      Writer reason;
      reason.put_string(refusal);
      out.insert(out.end(), reason.bytes().begin(), reason.bytes().end());
    }
    return out;
  }

  /// Decodes a hello of `rank`; throws protocol_error for another protocol or version. The
  /// description stays serialized (the caller decodes it for its service).
  static Hello decode(const Bytes& bytes, int rank) {
    Reader r(bytes, bomf::detail::concat("the hello message of rank ", rank));
    const auto magic = r.get<std::uint64_t>();
    const auto version = r.get<std::uint32_t>();
    if (magic != protocol_magic || version != protocol_version) {
      throw protocol_error(bomf::detail::concat(
          "bomf::mpi: rank ", rank, " speaks ",
          magic == protocol_magic ? "bomf::mpi protocol version " : "another protocol",
          magic == protocol_magic ? std::to_string(version) : std::string(), ", expected version ",
          protocol_version, " (every rank must run the same bomf build)"));
    }
    Hello h;
    const auto service = r.get<std::uint8_t>();
    if (service != static_cast<std::uint8_t>(Service::fusion) &&
        service != static_cast<std::uint8_t>(Service::training)) {
      throw protocol_error(bomf::detail::concat("bomf::mpi: rank ", rank,
                                                " serves an unknown service ", int{service}));
    }
    h.service = static_cast<Service>(service);
    h.ok = r.get<std::uint8_t>() != 0;
    if (h.ok) {
      h.description = r.rest();
    } else {
      h.refusal = r.get_string();
      r.finish();
    }
    return h;
  }
};

/// The context a training task runs with (TrainingContext's settings).
struct TrainingTask {
  int run_index = 0;
  bool collect_members = false;
  MemberSelectionOptions members;
  std::optional<long long> anchor_step;

  void write(Writer& w) const {
    w.put<std::int32_t>(run_index)
        .put<std::uint8_t>(collect_members ? 1 : 0)
        .put<std::int32_t>(members.count)
        .put<double>(members.start_fraction)
        .put<double>(members.end_fraction)
        .put<std::uint8_t>(anchor_step ? 1 : 0)
        .put<std::int64_t>(anchor_step.value_or(0));
  }
  static TrainingTask read(Reader& r) {
    TrainingTask t;
    t.run_index = r.get<std::int32_t>();
    t.collect_members = r.get<std::uint8_t>() != 0;
    t.members.count = r.get<std::int32_t>();
    t.members.start_fraction = r.get<double>();
    t.members.end_fraction = r.get<double>();
    const bool has_anchor = r.get<std::uint8_t>() != 0;
    const auto anchor = r.get<std::int64_t>();
    if (has_anchor)
      t.anchor_step = anchor;
    return t;
  }
};

inline void put_trajectory(Writer& w, const TrainingTrajectory& t) {
  w.put<std::int64_t>(t.total_steps).put<std::uint64_t>(t.points.size());
  for (const TrajectoryPoint& p : t.points) {
    w.put<std::int64_t>(p.step).put<double>(p.loss).put_vector(p.metrics);
  }
  w.put<std::uint64_t>(t.checkpoint_steps.size());
  for (const long long s : t.checkpoint_steps) {
    w.put<std::int64_t>(s);
  }
}

inline TrainingTrajectory get_trajectory(Reader& r) {
  TrainingTrajectory t;
  t.total_steps = r.get<std::int64_t>();
  const auto points = r.get<std::uint64_t>();
  for (std::uint64_t i = 0; i < points; ++i) {
    TrajectoryPoint p;
    p.step = r.get<std::int64_t>();
    p.loss = r.get<double>();
    p.metrics = r.get_vector();
    t.points.push_back(std::move(p));
  }
  const auto checkpoints = r.get<std::uint64_t>();
  for (std::uint64_t i = 0; i < checkpoints; ++i) {
    t.checkpoint_steps.push_back(r.get<std::int64_t>());
  }
  return t;
}

}  // namespace bomf::mpi::detail
