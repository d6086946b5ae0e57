#include "bomf/fusion/streaming.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/fusion/fuse_kernel.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/io/safetensors_writer.hpp"
#include "fusion/torch_dtype.hpp"
#include "io/file_util.hpp"

namespace bomf {
namespace {

constexpr const char* kWhere = "bomf::fuse_safetensors_files";

std::optional<FusionDtype> fusion_dtype_of(SafetensorsDtype dtype) {
  switch (dtype) {
    case SafetensorsDtype::F32:
      return FusionDtype::f32;
    case SafetensorsDtype::BF16:
      return FusionDtype::bf16;
    case SafetensorsDtype::F16:
      return FusionDtype::f16;
    case SafetensorsDtype::F64:
      return FusionDtype::f64;
    default:
      return std::nullopt;
  }
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return out + "]";
}

/// The opened inputs and the output layout, after the checks that come before any writing.
struct CheckedInputs {
  std::vector<SafetensorsCheckpoint> members;
  std::vector<SafetensorsTensorInfo> layout;
  std::uint64_t total_bytes = 0;
};

CheckedInputs open_and_check(const std::vector<std::string>& inputs,
                             std::optional<SafetensorsDtype> out_dtype) {
  const std::size_t n = inputs.size();
  detail::require(n >= 1, kWhere, "argument 'inputs' is empty, expected at least one file");
  CheckedInputs out;
  std::vector<SafetensorsCheckpoint>& members = out.members;
  members.reserve(n);
  for (const auto& path : inputs) {
    members.emplace_back(path);
  }
  const SafetensorsCheckpoint& first = members[0];
  for (const auto& name : first.names()) {
    const SafetensorsTensorInfo& reference = first.info(name);
    for (std::size_t m = 1; m < n; ++m) {
      detail::require(members[m].contains(name), kWhere, "input ", m + 1, " of ", n, " ('",
                      inputs[m], "') has no tensor '", name, "' (present in '", inputs[0], "')");
      const SafetensorsTensorInfo& other = members[m].info(name);
      detail::require(other.dtype == reference.dtype && other.shape == reference.shape, kWhere,
                      "tensor '", name, "' has shape ", shape_string(reference.shape),
                      " and dtype ", safetensors_dtype_name(reference.dtype), " in '", inputs[0],
                      "' but shape ", shape_string(other.shape), " and dtype ",
                      safetensors_dtype_name(other.dtype), " in '", inputs[m], "'");
    }
    detail::require(reference.dtype != SafetensorsDtype::F8_E4M3 &&
                        reference.dtype != SafetensorsDtype::F8_E5M2,
                    kWhere, "tensor '", name, "' has dtype ",
                    safetensors_dtype_name(reference.dtype), ", which cannot be fused");
    SafetensorsTensorInfo info = reference;
    if (fusion_dtype_of(reference.dtype) && out_dtype) {
      info.dtype = *out_dtype;
    }
    out.total_bytes += info.numel() * safetensors_dtype_size(info.dtype);
    out.layout.push_back(std::move(info));
  }
  for (std::size_t m = 1; m < n; ++m) {
    detail::require(members[m].names().size() == first.names().size(), kWhere, "input ", m + 1,
                    " of ", n, " ('", inputs[m], "') has ", members[m].names().size(),
                    " tensors, '", inputs[0], "' has ", first.names().size());
  }
  return out;
}

// How many of the `count` elements of `dtype` at `data` are NaN or ±∞ (exponent bits all set).
template <class Bits>
std::uint64_t count_non_finite_bits(const unsigned char* data, std::size_t count, Bits exponent) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < count; ++i) {
    Bits b;
    std::memcpy(&b, data + i * sizeof(Bits), sizeof(Bits));
    n += (b & exponent) == exponent ? 1 : 0;
  }
  return n;
}

std::uint64_t count_non_finite(const unsigned char* data, FusionDtype dtype, std::size_t count) {
  switch (dtype) {
    case FusionDtype::f32:
      return count_non_finite_bits<std::uint32_t>(data, count, 0x7F800000u);
    case FusionDtype::bf16:
      return count_non_finite_bits<std::uint16_t>(data, count, 0x7F80u);
    case FusionDtype::f16:
      return count_non_finite_bits<std::uint16_t>(data, count, 0x7C00u);
    case FusionDtype::f64:
      return count_non_finite_bits<std::uint64_t>(data, count, 0x7FF0000000000000ull);
  }
  return 0;
}

}  // namespace

void check_safetensors_fusion_inputs(const std::vector<std::string>& inputs) {
  (void)open_and_check(inputs, std::nullopt);
}

std::vector<NonFiniteTensor> fuse_safetensors_files(const std::vector<std::string>& inputs,
                                                    const Eigen::Ref<const Eigen::VectorXd>& delta,
                                                    const std::string& output,
                                                    const StreamingFusionOptions& options) {
  const std::size_t n = inputs.size();
  detail::require(n >= 1, kWhere, "argument 'inputs' is empty, expected at least one file");
  detail::check_fusion_delta(delta, n, options.fusion.require_simplex, kWhere);
  detail::require(options.fusion.copy_non_floating_from < n, kWhere,
                  "option 'copy_non_floating_from' is ", options.fusion.copy_non_floating_from,
                  ", expected an index below the number of inputs ", n);
  detail::require(options.chunk_elements >= 1, kWhere, "option 'chunk_elements' is 0");
  std::optional<SafetensorsDtype> out_dtype;
  if (options.fusion.output_dtype) {
    detail::require(detail::fusion_dtype_of(*options.fusion.output_dtype).has_value(), kWhere,
                    "option 'output_dtype' is ", *options.fusion.output_dtype,
                    ", expected Float, BFloat16, Half or Double");
    out_dtype = safetensors_dtype_of(*options.fusion.output_dtype);
  }

  CheckedInputs checked = open_and_check(inputs, out_dtype);
  const std::vector<SafetensorsCheckpoint>& members = checked.members;
  const SafetensorsCheckpoint& first = members[0];
  const std::vector<SafetensorsTensorInfo>& layout = checked.layout;
  const std::uint64_t total_bytes = checked.total_bytes;

  // The output replaces its path by a rename: were it an input (the same path, a symbolic or a
  // hard link), the input would be lost.
  for (std::size_t m = 0; m < n; ++m) {
    std::vector<std::string> files = members[m].files();
    files.push_back(inputs[m]);
    for (const auto& file : files) {
      detail::require(!detail::same_file(output, file), kWhere, "argument 'output' ('", output,
                      "') is the same file as input ", m + 1, " of ", n, " ('", file,
                      "'); writing it would replace that input");
    }
  }
  SafetensorsWriter writer(output, layout, options.metadata);
  const std::size_t chunk = options.chunk_elements;
  std::vector<unsigned char> buffer;
  std::vector<const void*> pointers(n);
  std::uint64_t done = 0;
  std::vector<NonFiniteTensor> non_finite;
  for (std::size_t k = 0; k < layout.size(); ++k) {
    const std::string& name = layout[k].name;
    const SafetensorsTensorInfo& in_info = first.info(name);
    const auto in = fusion_dtype_of(in_info.dtype);
    if (!in) {  // non-floating: copy the chosen member's bytes
      const SafetensorsCheckpoint& source = members[options.fusion.copy_non_floating_from];
      writer.write(k, source.data(name), in_info.nbytes());
      source.release(name);
    } else {
      const FusionDtype out = *fusion_dtype_of(layout[k].dtype);
      const std::size_t in_size = fusion_dtype_size(*in);
      const std::size_t out_size = fusion_dtype_size(out);
      const auto count = static_cast<std::size_t>(in_info.numel());
      buffer.resize(std::min(count, chunk) * out_size);
      std::uint64_t bad = 0;
      for (std::size_t first_element = 0; first_element < count; first_element += chunk) {
        const std::size_t len = std::min(chunk, count - first_element);
        for (std::size_t m = 0; m < n; ++m) {
          pointers[m] = members[m].data(name) + first_element * in_size;
        }
        fuse_buffers(pointers.data(), n, delta.data(), *in, buffer.data(), out, len);
        bad += count_non_finite(buffer.data(), out, len);
        writer.write_part(k, first_element * out_size, buffer.data(), len * out_size);
        for (auto& member : members) {
          member.release(name, first_element * in_size, len * in_size);
        }
      }
      if (bad > 0) {
        non_finite.push_back({name, bad});
      }
    }
    done += layout[k].numel() * safetensors_dtype_size(layout[k].dtype);
    if (options.progress) {
      options.progress(done, total_bytes, name);
    }
  }
  writer.finish();
  return non_finite;
}

}  // namespace bomf
