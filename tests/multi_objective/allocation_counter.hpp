// tests/multi_objective/allocation_counter.hpp — counts heap allocations made through the
// global operator new (replaced in allocation_counter.cpp), so that tests can assert that a
// hot path does not allocate.
#pragma once

namespace bomf::test {

/// Number of calls to the global operator new so far.
long allocation_count();

}  // namespace bomf::test
