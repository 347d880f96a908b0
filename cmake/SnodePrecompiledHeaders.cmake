# Precompiled headers for the snode libraries: Eigen and the standard headers that nearly every
# library file includes are parsed once per library instead of once per file (parsing them is
# most of a library file's compile time). This is what makes README command 1 (the study target
# on a fresh machine) and the two builds of command 2 fast.
#
# Off by default when a compiler launcher is set: ccache caches no compile that uses a
# precompiled header unless its sloppiness allows it (pch_defines,time_macros), so a developer's
# ccache build is faster without. The headers are PRIVATE: nothing of this reaches the package.
if(CMAKE_CXX_COMPILER_LAUNCHER)
  set(snode_pch_default OFF)
else()
  set(snode_pch_default ON)
endif()
option(SNODE_PCH "Precompile Eigen and standard headers for the snode libraries" ${snode_pch_default})

# Libraries with few files gain nothing (the header costs one compile per library).
set(SNODE_PCH_TARGETS snode_core snode_io snode_integrators snode_adjoint snode_problems
                      snode_studies)
set(SNODE_PCH_HEADERS <Eigen/Dense> <algorithm> <cmath> <cstddef> <functional> <limits>
                      <memory> <stdexcept> <string> <utility> <vector>)

if(SNODE_PCH)
  foreach(target IN LISTS SNODE_PCH_TARGETS)
    target_precompile_headers(${target} PRIVATE ${SNODE_PCH_HEADERS})
    # A header that stops matching (flags, definitions) shows as a warning, not a silent slowdown.
    target_compile_options(${target} PRIVATE -Winvalid-pch)
  endforeach()
  # Most of the studies' files write JSON reports.
  target_precompile_headers(snode_studies PRIVATE <nlohmann/json.hpp> <sstream>)
endif()
