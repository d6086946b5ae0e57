# Install rules and the exported CMake package (find_package(bomf CONFIG)).
include(CMakePackageConfigHelpers)

set(BOMF_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/bomf" CACHE STRING "Where bomfConfig.cmake goes")

install(DIRECTORY include/bomf DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" FILES_MATCHING PATTERN "*.hpp")
install(FILES "${PROJECT_BINARY_DIR}/generated/include/bomf/version.hpp"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/bomf")

set(_bomf_targets bomf_core)
if(BOMF_WITH_TORCH)
  list(APPEND _bomf_targets bomf_torch)
endif()
if(BOMF_WITH_CUDA)
  list(APPEND _bomf_targets bomf_cuda)
endif()

install(
  TARGETS ${_bomf_targets}
  EXPORT bomfTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(EXPORT bomfTargets NAMESPACE bomf:: DESTINATION "${BOMF_INSTALL_CMAKEDIR}")

configure_package_config_file(cmake/bomfConfig.cmake.in "${PROJECT_BINARY_DIR}/bomfConfig.cmake"
                              INSTALL_DESTINATION "${BOMF_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/bomfConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/bomfConfig.cmake" "${PROJECT_BINARY_DIR}/bomfConfigVersion.cmake"
              cmake/FindLBFGSpp.cmake DESTINATION "${BOMF_INSTALL_CMAKEDIR}")
