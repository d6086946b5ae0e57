#include "cli/members.hpp"

#include <ATen/ops/isfinite.h>
#include <ATen/ops/sum.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <utility>

#include "bomf/core/error.hpp"
#include "bomf/fusion/streaming.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/io/torch_archive.hpp"
#include "cli/arguments.hpp"
#include "io/file_util.hpp"

namespace bomf::cli {

namespace fs = std::filesystem;
namespace {

constexpr const char* kWhere = "bomf::cli::Members";

/// The first bytes of `path` (a regular file), at most `n`.
std::string head_of(const std::string& path, std::size_t n) {
  const int fd = detail::open_regular_file(path, "bomf: member");
  std::string out(n, '\0');
  ssize_t got = 0;
  do {
    got = ::read(fd, out.data(), n);
  } while (got < 0 && errno == EINTR);
  ::close(fd);
  out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return out;
}

void make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) {
    throw io_error(
        detail::concat("bomf: cannot create the directory '", path, "': ", std::strerror(errno)));
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    throw io_error(detail::concat("bomf: '", path, "' exists and is not a directory"));
  }
}

}  // namespace

std::string_view format_name(MemberFormat format) {
  switch (format) {
    case MemberFormat::safetensors:
      return "safetensors";
    case MemberFormat::sharded_safetensors:
      return "sharded safetensors";
    case MemberFormat::peft_adapter:
      return "PEFT adapter";
    case MemberFormat::torch_state_dict:
      return "torch.save state dict";
  }
  return "?";
}

MemberFormat detect_member_format(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw io_error(
        detail::concat("bomf: member '", path, "' cannot be found: ", std::strerror(errno)));
  }
  if (S_ISDIR(info.st_mode)) {
    if (is_peft_adapter_directory(path)) {
      return MemberFormat::peft_adapter;
    }
    throw io_error(detail::concat("bomf: member '", path,
                                  "' is a directory without adapter_config.json, expected a "
                                  "PEFT adapter directory, a .safetensors file, a sharded "
                                  "*.index.json or a torch.save file"));
  }
  const std::string head = head_of(path, 4);  // refuses FIFOs and devices before opening
  if (detail::ends_with(path, ".json")) {
    return MemberFormat::sharded_safetensors;
  }
  // A zip archive, or the legacy torch.save pickle (load_torch_state_dict names it).
  if (head == std::string("PK\x03\x04", 4) || head.rfind("\x80\x02\x8a", 0) == 0) {
    return MemberFormat::torch_state_dict;
  }
  return MemberFormat::safetensors;
}

struct Members::Loaded {
  std::unique_ptr<WeightFuser> torch_fuser;  // torch.save members
  std::mutex torch_fuser_mutex;              // its output buffer is reused: one writer at a time
  std::vector<PeftAdapter> adapters;         // PEFT members
};

Members::~Members() = default;
Members::Members(Members&&) noexcept = default;
Members& Members::operator=(Members&&) noexcept = default;

Members::Members(std::vector<std::string> paths, MemberOptions options)
    : paths_(std::move(paths)), options_(std::move(options)), loaded_(std::make_unique<Loaded>()) {
  detail::require(!paths_.empty(), kWhere, "no member given, expected at least one checkpoint");
  detail::require(options_.chunk_elements >= 1, kWhere, "option 'chunk_elements' is 0");
  format_ = detect_member_format(paths_[0]);
  for (std::size_t i = 1; i < paths_.size(); ++i) {
    const MemberFormat f = detect_member_format(paths_[i]);
    detail::require(f == format_, kWhere, "member ", i + 1, " ('", paths_[i], "') is a ",
                    format_name(f), ", member 1 ('", paths_[0], "') a ", format_name(format_),
                    ": all members must have one format");
  }
  switch (format_) {
    case MemberFormat::safetensors:
    case MemberFormat::sharded_safetensors:
      check_safetensors_fusion_inputs(paths_);
      for (const auto& path : paths_) {
        files_.push_back(path);
        for (auto& shard : SafetensorsCheckpoint(path).files()) {
          files_.push_back(std::move(shard));
        }
      }
      break;
    case MemberFormat::peft_adapter:
      for (const auto& path : paths_) {
        loaded_->adapters.push_back(load_peft_adapter(path));
        files_.push_back(path);
        files_.push_back(path + "/adapter_config.json");
        files_.push_back(peft_weights_file(path));
      }
      check_peft_adapters(loaded_->adapters, options_.lora);
      break;
    case MemberFormat::torch_state_dict: {
      std::vector<StateDict> members;
      for (const auto& path : paths_) {
        members.push_back(load_torch_state_dict(path));
        files_.push_back(path);
      }
      try {
        loaded_->torch_fuser = std::make_unique<WeightFuser>(std::move(members), options_.fusion);
      } catch (const invalid_argument& e) {
        // The fuser counts its members from 0 and knows no file names: name them.
        std::string files;
        for (std::size_t i = 0; i < paths_.size(); ++i) {
          files += detail::concat(i == 0 ? "" : ", ", i, " = '", paths_[i], "'");
        }
        throw invalid_argument(detail::concat(e.what(), " (members counted from 0: ", files, ")"));
      }
      break;
    }
  }
}

std::string Members::output_name() const {
  switch (format_) {
    case MemberFormat::peft_adapter:
      return "fused_adapter";
    case MemberFormat::torch_state_dict:
      return "fused.pt";
    default:
      return "fused.safetensors";
  }
}

void Members::check_not_a_member(const std::string& path) const {
  for (const auto& file : files_) {
    if (detail::same_file(path, file)) {
      throw usage_error(detail::concat(
          "'", path, "' is the member file '", file,
          "' (the same path, a symbolic link or a hard link to it); writing it would replace "
          "that member"));
    }
  }
}

std::vector<std::string> Members::written_files(const std::string& output) const {
  if (format_ == MemberFormat::peft_adapter) {
    return {output, output + "/adapter_model.safetensors", output + "/adapter_config.json"};
  }
  return {output};
}

void Members::check_output(const std::string& output) const {
  for (const auto& target : written_files(output)) {
    // A PEFT adapter's output is a directory; every other file it writes is a plain one.
    const bool adapter_directory = format_ == MemberFormat::peft_adapter && target == output &&
                                   fs::is_directory(fs::symlink_status(target));
    if (adapter_directory) {
      check_not_a_member(target);
    } else {
      check_plain_output(target);
    }
  }
}

void Members::check_plain_output(const std::string& path) const {
  check_not_a_member(path);
  // Writing replaces whatever the path names (a FIFO or a device such as /dev/null would become
  // a regular file): only a regular file, a symbolic link or a new path is an output.
  if (const std::string problem = detail::non_regular_output_problem(path); !problem.empty()) {
    throw usage_error("the output " + problem);
  }
}

namespace {

// The floating tensors of `tensors` that hold NaN or ±∞, in order.
std::vector<NonFiniteTensor> non_finite_tensors(const StateDict& tensors) {
  std::vector<NonFiniteTensor> out;
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const at::Tensor& t = tensors[k].second;
    if (t.is_floating_point()) {
      const auto count = (~at::isfinite(t)).sum().item<std::int64_t>();
      if (count > 0) {
        out.push_back({tensors[k].first, static_cast<std::uint64_t>(count)});
      }
    }
  }
  return out;
}

}  // namespace

std::vector<NonFiniteTensor> Members::write_fused(const Eigen::Ref<const Eigen::VectorXd>& delta,
                                                  const std::string& output) const {
  check_output(output);
  switch (format_) {
    case MemberFormat::safetensors:
    case MemberFormat::sharded_safetensors: {
      StreamingFusionOptions streaming;
      streaming.fusion = options_.fusion;
      streaming.metadata = options_.metadata;
      streaming.chunk_elements = options_.chunk_elements;
      streaming.progress = options_.progress;
      return fuse_safetensors_files(paths_, delta, output, streaming);
    }
    case MemberFormat::peft_adapter: {
      const FusedPeftAdapter fused =
          fuse_peft_adapters(loaded_->adapters, delta, options_.lora, options_.fusion);
      make_directory(output);
      std::map<std::string, std::string> metadata = options_.metadata;
      metadata.emplace("format", "pt");  // what PEFT writes
      save_safetensors(output + "/adapter_model.safetensors", fused.tensors, metadata);
      detail::write_file_atomically(output + "/adapter_config.json", fused.config.dump(2) + "\n",
                                    "bomf: fused adapter");
      return non_finite_tensors(fused.tensors);
    }
    case MemberFormat::torch_state_dict: {
      const std::lock_guard<std::mutex> lock(loaded_->torch_fuser_mutex);
      const StateDict& fused = loaded_->torch_fuser->fuse(delta);
      save_torch_state_dict(output, fused);
      return non_finite_tensors(fused);
    }
  }
  return {};
}

std::string non_finite_warning(const std::vector<NonFiniteTensor>& tensors,
                               const std::string& output) {
  if (tensors.empty()) {
    return {};
  }
  std::uint64_t total = 0;
  std::string names;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    total += tensors[i].count;
    if (i < 3) {
      names +=
          detail::concat(i == 0 ? "" : ", ", "'", tensors[i].name, "' (", tensors[i].count, ")");
    }
  }
  return detail::concat("warning: '", output, "' holds ", total, " NaN or infinite values in ",
                        tensors.size(), tensors.size() == 1 ? " tensor: " : " tensors: ", names,
                        tensors.size() > 3 ? ", …" : "",
                        " — an input's, or coefficients (or --dtype) whose sums overflow");
}

}  // namespace bomf::cli
