# Helpers for the test and benchmark trees.
#
#   bomf_add_gtest(<name> SOURCES <files...> [LIBRARIES <targets...>] [LABELS <labels...>])
#     A GoogleTest executable linked with bomf's test support (data paths, JSON reader) and
#     GTest::gtest_main; its tests are discovered by ctest. Label "core" marks libtorch-free
#     tests (run under the sanitizer preset), "torch" and "cuda" the others.
#
#   bomf_add_benchmark(<name> SOURCES <files...> [LIBRARIES <targets...>])
#     A Google Benchmark executable (not a ctest test; scripts/bench-smoke.sh runs each once).
include(GoogleTest)

function(bomf_add_gtest name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE bomf_test_support ${ARG_LIBRARIES} GTest::gtest GTest::gtest_main)
  bomf_set_project_options(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()

function(bomf_add_benchmark name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES} benchmark::benchmark benchmark::benchmark_main)
  bomf_set_project_options(${name})
  set_property(GLOBAL APPEND PROPERTY BOMF_BENCHMARKS ${name})
endfunction()
