# snode_add_integrator_contract_test(NAME <ctest name> INTEGRATOR <name>
#                                    [PLUGIN <target or path>...] [TABLEAU <file>...]
#                                    [SETTINGS key=value...] [ARGS <runner argument>...]
#                                    [TIMEOUT <seconds>] [RUNNER <target or path>])
#
# Adds a ctest that runs the integrator contract (snode_integrator_contract, see
# testing/integrator_contract.hpp) on one method: the runner loads each PLUGIN (a shared-library
# target of this project, whose file a generator expression names, or a path), registers each
# TABLEAU file (relative to the current source directory), and checks INTEGRATOR under SETTINGS
# (rtol, atol, fixed_step, initial_step, initial_step_estimate, max_step, max_steps,
# linear_solver, max_nonlinear_iters, krylov_max_dim, and tolerance: the error the method must
# reach on the logistic problem). ARGS go to the runner as they are (e.g. --gtest_filter=...).
#
# The runner is the target snode_integrator_contract when snode itself is being built, otherwise
# the imported snode::integrator_contract of an installed snode (find_package(snode)). RUNNER
# names another one: an executable of your own that links snode::testing, registers its methods
# in-process and calls snode::contract::RunIntegratorContract from main.
function(snode_add_integrator_contract_test)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "NAME;INTEGRATOR;TIMEOUT;RUNNER" "PLUGIN;TABLEAU;SETTINGS;ARGS")
  if(NOT ARG_NAME OR NOT ARG_INTEGRATOR)
    message(FATAL_ERROR "snode_add_integrator_contract_test: NAME and INTEGRATOR are required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "snode_add_integrator_contract_test(${ARG_NAME}): unknown arguments "
                        "${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(ARG_RUNNER AND TARGET ${ARG_RUNNER})
    set(runner $<TARGET_FILE:${ARG_RUNNER}>)
  elseif(ARG_RUNNER)
    set(runner ${ARG_RUNNER})
  elseif(TARGET snode_integrator_contract)
    set(runner $<TARGET_FILE:snode_integrator_contract>)
  elseif(TARGET snode::integrator_contract)
    set(runner $<TARGET_FILE:snode::integrator_contract>)
  else()
    message(FATAL_ERROR "snode_add_integrator_contract_test(${ARG_NAME}): no contract runner; "
                        "find_package(snode) first (it provides snode::integrator_contract)")
  endif()
  set(args --integrator ${ARG_INTEGRATOR})
  foreach(plugin IN LISTS ARG_PLUGIN)
    if(TARGET ${plugin})
      list(APPEND args --plugin $<TARGET_FILE:${plugin}>)
    else()
      list(APPEND args --plugin ${plugin})
    endif()
  endforeach()
  foreach(tableau IN LISTS ARG_TABLEAU)
    get_filename_component(tableau ${tableau} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND args --tableau ${tableau})
  endforeach()
  foreach(setting IN LISTS ARG_SETTINGS)
    list(APPEND args --setting ${setting})
  endforeach()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 900)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${runner} ${args} ${ARG_ARGS})
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "contract")
endfunction()
