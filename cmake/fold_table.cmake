# AutoMod's fold table (community/automod.cpp's fold_automod_text), generated at build time from
# ICU's Unicode data by src/community/tools/fold_table_gen.cpp. Only that generator links ICU; the
# libraries and the server carry the table.
#
# gatehouse_fold_table(<target>) makes <target> wait for the table and see it as
# "community/fold_table.inc".
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc icu-i18n)

function(gatehouse_fold_table target)
  set(out_dir ${CMAKE_BINARY_DIR}/generated)
  if(NOT TARGET gh_fold_table)
    add_executable(gh_fold_table_gen ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../src/community/tools/fold_table_gen.cpp)
    target_link_libraries(gh_fold_table_gen PRIVATE PkgConfig::ICU)
    set(out ${out_dir}/community/fold_table.inc)
    # The generator may be built with the sanitizers of the build around it; ICU's caches live
    # until exit and are not leaks.
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}/community
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 $<TARGET_FILE:gh_fold_table_gen> ${out}
      DEPENDS gh_fold_table_gen
      COMMENT "AutoMod's fold table from ICU's Unicode data"
      VERBATIM)
    add_custom_target(gh_fold_table DEPENDS ${out})
  endif()
  add_dependencies(${target} gh_fold_table)
  target_include_directories(${target} PRIVATE ${out_dir})
endfunction()
