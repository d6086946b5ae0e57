# cmake -P script behind the bomf.package.* tests; see tests/package/CMakeLists.txt.
cmake_minimum_required(VERSION 3.24)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
endfunction()

# run_failing(<regex> <command...>): the command must fail and its output match <regex>.
function(run_failing regex)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "command succeeded, expected a failure: ${ARGN}\n${out}\n${err}")
  endif()
  if(NOT "${out}${err}" MATCHES "${regex}")
    message(FATAL_ERROR "command failed without saying '${regex}': ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(_build "${WORK_DIR}/build")
set(_args -S "${CONSUMER_SOURCE_DIR}" -B "${_build}" -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
          -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCONSUMER_WITH_TORCH=${WITH_TORCH}
          -DCONSUMER_WITH_CUDA=${WITH_CUDA} -DCONSUMER_WITH_MPI=${WITH_MPI})
if(WITH_CUDA)
  list(APPEND _args -DCMAKE_CUDA_COMPILER=${CMAKE_CUDA_COMPILER})
endif()

if(MODE STREQUAL "find_package" OR MODE STREQUAL "find_package_without_torch")
  set(_prefix "${WORK_DIR}/prefix")
  run(${CMAKE_COMMAND} --install "${BOMF_BINARY_DIR}" --prefix "${_prefix}")
  if(NOT EXISTS "${_prefix}/lib/cmake/bomf/bomfConfig.cmake")
    message(FATAL_ERROR "install did not produce ${_prefix}/lib/cmake/bomf/bomfConfig.cmake")
  endif()
endif()

if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} ${_args} -DCMAKE_PREFIX_PATH=${_prefix} -DCONSUMER_MODE=find_package)
  if(WITH_CLI)  # the installed program runs
    run("${_prefix}/bin/bomf" --version)
    run("${_prefix}/bin/bomf" fuse --help)
  endif()
elseif(MODE STREQUAL "find_package_without_torch")
  # A machine without libtorch or CUDA: find_package(Torch) and find_package(CUDAToolkit) find
  # nothing (and a REQUIRED one is an error), Torch_DIR points nowhere.
  set(_hidden -DCMAKE_PREFIX_PATH=${_prefix} -DCONSUMER_MODE=find_package
              -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON
              -DTorch_DIR=${WORK_DIR}/no-torch-here)
  # COMPONENTS torch on such a machine fails, naming the missing dependency.
  run_failing("Torch" ${CMAKE_COMMAND} ${_args} ${_hidden} -DCONSUMER_WITH_TORCH=ON)
  file(REMOVE_RECURSE "${_build}")
  # A component bomf does not have fails clearly.
  run_failing("unknown bomf component 'nonsense'" ${CMAKE_COMMAND} ${_args} ${_hidden}
              -DCONSUMER_WITH_TORCH=OFF -DCONSUMER_EXTRA_COMPONENTS=nonsense)
  file(REMOVE_RECURSE "${_build}")
  if(NOT WITH_CUDA)
    run_failing("built without it" ${CMAKE_COMMAND} ${_args} ${_hidden} -DCONSUMER_WITH_TORCH=OFF
                -DCONSUMER_EXTRA_COMPONENTS=cuda)
    file(REMOVE_RECURSE "${_build}")
  endif()
  if(WITH_MPI)  # COMPONENTS mpi without MPI fails, naming it
    run_failing("MPI" ${CMAKE_COMMAND} ${_args} ${_hidden} -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON
                -DCONSUMER_WITH_TORCH=OFF -DCONSUMER_WITH_MPI=ON)
    file(REMOVE_RECURSE "${_build}")
  endif()
  # COMPONENTS core configures, builds and runs.
  run(${CMAKE_COMMAND} ${_args} ${_hidden} -DCONSUMER_WITH_TORCH=OFF -DCONSUMER_WITH_MPI=OFF)
  set(WITH_TORCH OFF)
  set(WITH_MPI OFF)
elseif(MODE STREQUAL "add_subdirectory")
  run(${CMAKE_COMMAND} ${_args} -DBOMF_SOURCE_DIR=${BOMF_SOURCE_DIR} -DCONSUMER_MODE=add_subdirectory)
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()

include(ProcessorCount)
ProcessorCount(_jobs)
run(${CMAKE_COMMAND} --build "${_build}" --parallel ${_jobs})
run("${_build}/bomf_consumer_core")
if(WITH_TORCH)
  run("${_build}/bomf_consumer_torch")
endif()
if(WITH_MPI)
  run("${_build}/bomf_consumer_mpi")
endif()
message(STATUS "consumer (${MODE}) built and ran")
