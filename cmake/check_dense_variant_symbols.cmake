# Run by ctest (tests/CMakeLists.txt): every object of a dense-kernel variant
# (core/dense_kernels_variant.cpp) must define no shareable symbol outside its own namespaces.
# A weak symbol shared with the rest of the program (an inline function of Eigen or of the standard
# library) would let the linker keep one ISA's copy for everybody: an AVX-512 instruction on a
# processor without AVX-512.
#   cmake -DNM=<nm> -DOBJECTS="<obj>;<obj>" -P check_dense_variant_symbols.cmake
foreach(object IN LISTS OBJECTS)
  execute_process(COMMAND ${NM} --defined-only ${object} OUTPUT_VARIABLE symbols
                  RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "nm failed on ${object}")
  endif()
  string(REPLACE "\n" ";" lines "${symbols}")
  set(shared "")
  foreach(line IN LISTS lines)
    # Global or weak definitions (upper-case type letters). A mangled name that mentions the
    # variant's namespaces (in its own name or its template arguments) is the variant's alone;
    # so is the exception-handling personality reference every C++ object carries.
    if(line MATCHES "^[0-9a-f]+ [A-Z] (.*)$")
      set(name "${CMAKE_MATCH_1}")
      if(NOT name MATCHES "(EigenDense_|dense_variant)" AND NOT name STREQUAL "DW.ref.__gxx_personality_v0")
        list(APPEND shared "${name}")
      endif()
    endif()
  endforeach()
  if(shared)
    list(LENGTH shared count)
    list(SUBLIST shared 0 10 first)
    string(REPLACE ";" "\n  " first "${first}")
    message(FATAL_ERROR "${object} shares ${count} symbol(s) with the rest of the program:\n  ${first}")
  endif()
  message(STATUS "${object}: no shared symbol")
endforeach()
