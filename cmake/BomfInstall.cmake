# Install rules and the exported CMake package (find_package(bomf CONFIG)).
#
# One export set, and one targets file, per component: bomfCoreTargets.cmake,
# bomfTorchTargets.cmake, bomfCudaTargets.cmake, bomfMpiTargets.cmake. bomfConfig.cmake loads the core's and those of
# the requested components only, after finding only their dependencies, so that
# find_package(bomf CONFIG REQUIRED COMPONENTS core) works on a machine without libtorch or
# CUDA. The `bomf` program goes to bin/.
include(CMakePackageConfigHelpers)

set(BOMF_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/bomf" CACHE STRING "Where bomfConfig.cmake goes")

install(DIRECTORY include/bomf DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" FILES_MATCHING PATTERN "*.hpp")
install(FILES "${PROJECT_BINARY_DIR}/generated/include/bomf/version.hpp"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/bomf")

# component → target and export set
set(BOMF_BUILT_COMPONENTS core)
set(_bomf_component_targets core bomf_core)
if(BOMF_WITH_TORCH)
  list(APPEND BOMF_BUILT_COMPONENTS torch)
  list(APPEND _bomf_component_targets torch bomf_torch)
endif()
if(BOMF_WITH_CUDA)
  list(APPEND BOMF_BUILT_COMPONENTS cuda)
  list(APPEND _bomf_component_targets cuda bomf_cuda)
endif()
if(BOMF_WITH_MPI)
  list(APPEND BOMF_BUILT_COMPONENTS mpi)
  list(APPEND _bomf_component_targets mpi bomf_mpi)
endif()

foreach(_component IN LISTS BOMF_BUILT_COMPONENTS)
  list(FIND _bomf_component_targets ${_component} _index)
  math(EXPR _index "${_index} + 1")
  list(GET _bomf_component_targets ${_index} _target)
  string(SUBSTRING ${_component} 0 1 _first)
  string(TOUPPER ${_first} _first)
  string(SUBSTRING ${_component} 1 -1 _rest)
  set(_export "bomf${_first}${_rest}Targets")
  install(
    TARGETS ${_target}
    EXPORT ${_export}
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
  install(EXPORT ${_export} NAMESPACE bomf:: DESTINATION "${BOMF_INSTALL_CMAKEDIR}")
endforeach()

if(TARGET bomf)
  install(TARGETS bomf RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif()

configure_package_config_file(cmake/bomfConfig.cmake.in "${PROJECT_BINARY_DIR}/bomfConfig.cmake"
                              INSTALL_DESTINATION "${BOMF_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/bomfConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/bomfConfig.cmake" "${PROJECT_BINARY_DIR}/bomfConfigVersion.cmake"
              cmake/FindLBFGSpp.cmake DESTINATION "${BOMF_INSTALL_CMAKEDIR}")
