# The fuzz targets' sources, built by the main (GCC) build with tests/fuzz/replay_main.cpp instead of
# libFuzzer, and run over their committed seeds in the unit tier (`ctest -L unit -R ^fuzz_replay\.`).
# Included by the root CMakeLists.txt when the unit tier is built; tests/fuzz/CMakeLists.txt lists
# the same targets for scripts/run-fuzz.
set(GATEHOUSE_FUZZ_REPLAY_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
foreach(target rlp_fuzz abi_fuzz siwe_fuzz hex_fuzz u256_fuzz eip712_fuzz http_fuzz jsonrpc_fuzz websocket_fuzz
               mls_fuzz graphql_fuzz messaging_fuzz automod_fuzz)
  set(exe ${target}_replay)
  add_executable(${exe} ${GATEHOUSE_FUZZ_REPLAY_DIR}/${target}.cpp ${GATEHOUSE_FUZZ_REPLAY_DIR}/replay_main.cpp)
  if(target STREQUAL "mls_fuzz")
    target_link_libraries(${exe} PRIVATE gh_mls)
  elseif(target STREQUAL "graphql_fuzz")
    target_link_libraries(${exe} PRIVATE gh_graphql)
  elseif(target STREQUAL "messaging_fuzz")
    target_link_libraries(${exe} PRIVATE gh_messaging_model)
  elseif(target STREQUAL "automod_fuzz")
    target_link_libraries(${exe} PRIVATE gh_community_model)
  else()
    target_link_libraries(${exe} PRIVATE gh_eth gh_rpc gh_net)
  endif()
  target_compile_options(${exe} PRIVATE ${GATEHOUSE_WARNINGS})
  add_test(NAME fuzz_replay.${target} COMMAND ${exe} ${GATEHOUSE_FUZZ_REPLAY_DIR}/seeds/${target})
  set_tests_properties(fuzz_replay.${target} PROPERTIES LABELS unit COST 1)
endforeach()
