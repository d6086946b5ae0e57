// Parsing and writing safetensors headers of N tensor entries (a 7B-parameter model sharded per
// layer has ~300 entries per shard; a fused LoRA checkpoint of every layer, tens of thousands).
// Both must be linear in N apart from cache and allocator effects: the reported O(N) fit and its
// RMS show it (the parser builds a JSON tree first, whose per-entry cost rises about 3x from 1k
// to 262k entries as the tree outgrows the caches; the quadratic parser this one replaced took
// 26 s for 65536 entries, 84x this one's time, and its serializer 9.8 s, 81x).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bomf/io/safetensors_header.hpp"

namespace {

constexpr std::uint64_t kEntryBytes = 2 * 16 * 64;

std::vector<bomf::SafetensorsTensorInfo> entries(std::size_t count) {
  std::vector<bomf::SafetensorsTensorInfo> tensors(count);
  for (std::size_t i = 0; i < count; ++i) {
    tensors[i] = {"model.layers." + std::to_string(i) + ".self_attn.q_proj.lora_A.weight",
                  bomf::SafetensorsDtype::BF16,
                  {16, 64},
                  kEntryBytes * i,
                  kEntryBytes * (i + 1)};
  }
  return tensors;
}

void BM_SerializeHeader(benchmark::State& state) {
  const auto tensors = entries(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(bomf::serialize_safetensors_header(tensors, {{"format", "pt"}}));
  }
  state.SetComplexityN(state.range(0));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_ParseHeader(benchmark::State& state) {
  const auto count = static_cast<std::size_t>(state.range(0));
  const std::string header = bomf::serialize_safetensors_header(entries(count), {{"format", "pt"}});
  // The parser checks offsets against the data section but never reads it: the file is mapped
  // in real use, so only the header's bytes are allocated here (`size` spans the data).
  const std::vector<unsigned char> file(header.begin(), header.end());
  const std::size_t size = file.size() + kEntryBytes * count;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        bomf::parse_safetensors_header(file.data(), size, "bench.safetensors"));
  }
  state.SetComplexityN(state.range(0));
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(header.size()));
}

BENCHMARK(BM_SerializeHeader)
    ->RangeMultiplier(4)
    ->Range(1 << 10, 1 << 18)
    ->Unit(benchmark::kMillisecond)
    ->Complexity(benchmark::oN);
BENCHMARK(BM_ParseHeader)
    ->RangeMultiplier(4)
    ->Range(1 << 10, 1 << 18)
    ->Unit(benchmark::kMillisecond)
    ->Complexity(benchmark::oN);

}  // namespace
