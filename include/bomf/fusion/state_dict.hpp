// bomf/fusion/state_dict.hpp — an ordered name → tensor map, the unit of weight fusion and I/O.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf {

/// A model's parameters and buffers by name, in insertion order (the order a checkpoint file
/// lists them, which fusion output and written files preserve). Names are unique; every
/// tensor is defined. Copying a StateDict copies tensor handles, not their storage.
class StateDict {
 public:
  using value_type = std::pair<std::string, at::Tensor>;
  using const_iterator = std::vector<value_type>::const_iterator;

  StateDict() = default;
  /// `{{"w", w}, {"b", b}}`; throws like `insert`.
  StateDict(std::initializer_list<value_type> entries) {
    for (const auto& [name, tensor] : entries) {
      insert(name, tensor);
    }
  }

  /// Appends `tensor` under `name`. Throws `bomf::invalid_argument` for a duplicate name or an
  /// undefined tensor.
  void insert(std::string name, at::Tensor tensor) {
    detail::require(tensor.defined(), "bomf::StateDict::insert", "tensor '", name,
                    "' is undefined");
    const bool fresh = index_.emplace(name, entries_.size()).second;
    detail::require(fresh, "bomf::StateDict::insert", "name '", name, "' is already present");
    entries_.emplace_back(std::move(name), std::move(tensor));
  }

  /// The tensor named `name`, or nullptr.
  [[nodiscard]] const at::Tensor* find(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  [[nodiscard]] at::Tensor* find(std::string_view name) {
    const auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  [[nodiscard]] bool contains(std::string_view name) const { return find(name) != nullptr; }

  /// The tensor named `name`; throws `bomf::invalid_argument` when there is none.
  [[nodiscard]] const at::Tensor& at(std::string_view name) const {
    const at::Tensor* tensor = find(name);
    detail::require(tensor != nullptr, "bomf::StateDict::at", "no tensor named '", name, "'");
    return *tensor;
  }
  /// Mutable access to the tensor named `name` (the name itself cannot change).
  [[nodiscard]] at::Tensor& at(std::string_view name) {
    at::Tensor* tensor = find(name);
    detail::require(tensor != nullptr, "bomf::StateDict::at", "no tensor named '", name, "'");
    return *tensor;
  }

  /// The `i`-th entry in order (0 ≤ i < size()).
  [[nodiscard]] const value_type& operator[](std::size_t i) const { return entries_[i]; }
  /// The `i`-th tensor, mutable.
  [[nodiscard]] at::Tensor& tensor(std::size_t i) { return entries_[i].second; }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] const_iterator begin() const noexcept { return entries_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return entries_.end(); }

 private:
  std::vector<value_type> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace bomf
