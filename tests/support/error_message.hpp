// The message of an expected exception, for tests that check what an error says (the argument,
// its value, what was expected).
#pragma once

#include <exception>
#include <string>

#include "bomf/core/error.hpp"

namespace bomf::test {

/// The what() of the `Exception` that `call()` throws, or a note that none was thrown.
template <class Exception = bomf::invalid_argument, class Call>
std::string error_message(Call&& call) {
  try {
    call();
  } catch (const Exception& e) {
    return e.what();
  }
  return "(no exception of the expected type)";
}

}  // namespace bomf::test
