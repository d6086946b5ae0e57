# FindLBFGSpp — locate the header-only LBFGS++ library (Debian: liblbfgspp-dev).
#
# Defines the imported target LBFGSpp::LBFGSpp and LBFGSpp_FOUND. LBFGS++ ships no CMake
# package of its own, so this module is installed next to bomfConfig.cmake for consumers.
find_path(LBFGSpp_INCLUDE_DIR NAMES LBFGSB.h PATH_SUFFIXES include)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LBFGSpp REQUIRED_VARS LBFGSpp_INCLUDE_DIR)
if(LBFGSpp_FOUND AND NOT TARGET LBFGSpp::LBFGSpp)
  add_library(LBFGSpp::LBFGSpp INTERFACE IMPORTED)
  set_target_properties(LBFGSpp::LBFGSpp PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${LBFGSpp_INCLUDE_DIR}")
endif()
mark_as_advanced(LBFGSpp_INCLUDE_DIR)
