// libFuzzer target for the safetensors header parser (libtorch-free; see
// scripts/fuzz-safetensors.sh).
//
// Any input must either parse into a header whose every tensor lies inside the data section
// with a consistent byte length and no overlap, or throw bomf::io_error. Anything else — another
// exception type, an out-of-bounds read (AddressSanitizer), undefined behaviour — is a crash.
// Parsed headers must also survive serialize → parse unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/io/safetensors_header.hpp"

namespace {

void require(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

void check_invariants(const bomf::SafetensorsHeader& header, const std::uint8_t* data,
                      std::size_t size) {
  require(header.data_offset + header.data_size == size);
  const bomf::SafetensorsTensorInfo* previous = nullptr;
  volatile unsigned sink = 0;
  for (const auto& t : header.tensors) {
    require(t.begin <= t.end && t.end <= header.data_size);
    require(t.nbytes() == t.numel() * bomf::safetensors_dtype_size(t.dtype));
    require(header.find(t.name) == &t);
    if (t.nbytes() > 0) {
      // Touch the first and last byte: AddressSanitizer flags any range outside the input.
      sink = sink + data[header.data_offset + t.begin] + data[header.data_offset + t.end - 1];
      require(previous == nullptr || previous->end <= t.begin);
      previous = &t;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bomf::SafetensorsHeader header;
  try {
    header = bomf::parse_safetensors_header(data, size, "fuzz input");
  } catch (const bomf::io_error&) {
    return 0;  // rejected cleanly
  }
  check_invariants(header, data, size);

  // Round trip: re-serialize the header, append the same data section, parse again.
  const std::string text = bomf::serialize_safetensors_header(header.tensors, header.metadata);
  std::vector<std::uint8_t> copy(text.begin(), text.end());
  copy.insert(copy.end(), data + header.data_offset, data + size);
  const bomf::SafetensorsHeader again =
      bomf::parse_safetensors_header(copy.data(), copy.size(), "round trip");
  require(again.tensors.size() == header.tensors.size());
  for (std::size_t i = 0; i < again.tensors.size(); ++i) {
    const auto& a = again.tensors[i];
    const auto& b = header.tensors[i];
    require(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.begin == b.begin &&
            a.end == b.end);
  }
  require(again.metadata == header.metadata);
  return 0;
}
