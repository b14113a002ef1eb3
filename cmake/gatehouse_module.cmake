# gatehouse_module(<name> [DEPS targets...] [PRIVATE_DEPS targets...] [TEST_DEPS targets...]
#                  [EXCLUDE files...])
#
# One library target per folder under src/: every *.cpp in the folder except tests forms the
# library gh_<name>. Tests live beside the code as *_test.cpp; the file's suffix picks its label:
#   foo_test.cpp -> unit      (fast, no services)
#   foo_db_test.cpp -> db     (needs PostgreSQL started by scripts/test-services)
#   foo_chain_test.cpp -> chain (needs anvil)
#   foo_slow_test.cpp -> slow
# Test names are prefixed with the module ("store.Backends/...") so `ctest -R ^store\.` picks one.
# Each label gets its own test executable gh_<name>_<label>_tests, registered with
# gtest_discover_tests and labelled so `ctest -L unit` runs the fast tier. EXCLUDE names files of
# the folder that belong to another target (e.g. a pure part built as its own library).
function(gatehouse_module name)
  cmake_parse_arguments(M "" "" "DEPS;PRIVATE_DEPS;TEST_DEPS;EXTRA_SOURCES;EXCLUDE" ${ARGN})
  file(GLOB all_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  foreach(excluded ${M_EXCLUDE})
    list(REMOVE_ITEM all_sources ${CMAKE_CURRENT_SOURCE_DIR}/${excluded})
  endforeach()
  set(lib_sources ${all_sources})
  list(FILTER lib_sources EXCLUDE REGEX "_test\\.cpp$")
  list(APPEND lib_sources ${M_EXTRA_SOURCES})

  add_library(gh_${name} STATIC ${lib_sources})
  target_include_directories(gh_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(gh_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  target_compile_options(gh_${name} PRIVATE ${GATEHOUSE_WARNINGS})

  if(NOT GATEHOUSE_TESTS)
    return()
  endif()
  foreach(label ${GATEHOUSE_TEST_LABELS})
    set(tests ${all_sources})
    if(label STREQUAL "unit")
      list(FILTER tests INCLUDE REGEX "_test\\.cpp$")
      list(FILTER tests EXCLUDE REGEX "_(db|chain|slow)_test\\.cpp$")
    else()
      list(FILTER tests INCLUDE REGEX "_${label}_test\\.cpp$")
    endif()
    if(tests)
      set(exe gh_${name}_${label}_tests)
      add_executable(${exe} ${tests})
      target_link_libraries(${exe} PRIVATE gh_${name} ${M_TEST_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
      target_compile_options(${exe} PRIVATE ${GATEHOUSE_WARNINGS})
      # Tests find fixtures and the reference-vector scripts (tests/vectors/) through this.
      target_compile_definitions(${exe} PRIVATE GATEHOUSE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
      # ctest starts the costliest tests first while it has no timings of its own (a fresh
      # checkout): the chain and slow tiers hold the longest tests.
      set(cost 1)
      if(label STREQUAL "chain" OR label STREQUAL "slow")
        set(cost 100)
      elseif(label STREQUAL "db")
        set(cost 10)
      endif()
      gtest_discover_tests(${exe}
        DISCOVERY_TIMEOUT 60
        TEST_PREFIX "${name}."
        PROPERTIES LABELS "${label}" COST ${cost} ENVIRONMENT "GATEHOUSE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
    endif()
  endforeach()
endfunction()
