# The installed package: libraries (EXPORT snodeTargets, namespace snode::), headers under
# include/snode/<dir>/, the apps in bin/, snodeConfig.cmake + snodeConfigVersion.cmake, snode.pc,
# and a Debian package through CPack (`cpack -G DEB` in the build directory).
include(CMakePackageConfigHelpers)

set(SNODE_LIBRARY_DIRS core models io optim integrators adjoint problems studies plugins)
# The integrator contract (a GoogleTest library and its runner) joins the package when it is
# built (SNODE_BUILD_TESTS); snodeConfig.cmake then also finds GTest.
set(SNODE_PACKAGE_TESTING OFF)
if(TARGET snode_testing)
  list(APPEND SNODE_LIBRARY_DIRS testing)
  set(SNODE_PACKAGE_TESTING ON)
endif()
set(SNODE_LIBRARY_TARGETS)
foreach(dir IN LISTS SNODE_LIBRARY_DIRS)
  set(target snode_${dir})
  list(APPEND SNODE_LIBRARY_TARGETS ${target})
  # Position-independent code even when static: a plug-in (a shared object) links the static
  # libraries. No semantic interposition: calls inside a shared snode library bind locally.
  set_target_properties(${target} PROPERTIES
    EXPORT_NAME ${dir}
    POSITION_INDEPENDENT_CODE ON
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -fno-semantic-interposition)
  endif()
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/snode/${dir}
          FILES_MATCHING PATTERN "*.hpp")
endforeach()

set(SNODE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/snode)
set(SNODE_EXPORTED_PROGRAMS)
if(TARGET snode_integrator_contract)
  set_target_properties(snode_integrator_contract PROPERTIES EXPORT_NAME integrator_contract)
  list(APPEND SNODE_EXPORTED_PROGRAMS snode_integrator_contract)
endif()
# snode_warnings: only as the libraries' PRIVATE link (its flags are build-tree only).
install(TARGETS ${SNODE_LIBRARY_TARGETS} ${SNODE_EXPORTED_PROGRAMS} snode_warnings
        EXPORT snodeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS stiffness_study exponential_decay lotka_volterra mnist_classifier checkpoint_tool
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT snodeTargets NAMESPACE snode:: DESTINATION ${SNODE_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/snodeConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/snodeConfig.cmake
                              INSTALL_DESTINATION ${SNODE_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/snodeConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/snodeConfig.cmake ${PROJECT_BINARY_DIR}/snodeConfigVersion.cmake
        DESTINATION ${SNODE_INSTALL_CMAKEDIR})
# snode_add_integrator_contract_test(), when that module is in the tree.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/SnodeContractTest.cmake
        DESTINATION ${SNODE_INSTALL_CMAKEDIR} OPTIONAL)

# pkg-config: relocatable (the prefix is found from the .pc file's own directory), so
# `cmake --install --prefix ANY` gives a working file.
file(RELATIVE_PATH SNODE_PC_PREFIX_FROM_PCDIR
     ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" SNODE_PC_PREFIX_FROM_PCDIR "${SNODE_PC_PREFIX_FROM_PCDIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/snode.pc.in ${PROJECT_BINARY_DIR}/snode.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/snode.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Debian 12 package (`cpack -G DEB`, best from a build with SNODE_BUILD_TESTS=OFF and
# SNODE_BUILD_BENCHMARKS=OFF: cpack first builds every target). Depends: the -dev packages
# snodeConfig.cmake finds (the libraries are static by default, so their users link SUNDIALS,
# liblbfgs and zlib themselves), plus the run-time libraries of the apps (dpkg-shlibdeps when
# present, else listed).
set(CPACK_PACKAGE_NAME snode)
set(CPACK_PACKAGE_VENDOR "snode")
set(CPACK_PACKAGE_CONTACT "snode maintainers <snode@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Stiff-aware neural ODEs on SUNDIALS (C++17 libraries, headers, apps)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libsundials-dev (>= 6.4), libeigen3-dev (>= 3.4), nlohmann-json3-dev (>= 3.11), zlib1g-dev, liblbfgs-dev, pkg-config")
find_program(SNODE_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(SNODE_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libboost-program-options1.74.0, libstdc++6 (>= 12), libc6")
endif()
include(CPack)
