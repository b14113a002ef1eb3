# gatehouse_migrations(<module> [DIR <folder>] [TARGET <target>])
#
# Embeds a module's SQL migrations into its library. The folder (default src/<module>/migrations)
# holds NNNN_name.sql files, with optional dialect variants NNNN_name.sqlite.sql and
# NNNN_name.pg.sql that replace the plain file for that dialect. The generated code defines
#   const gh::store::MigrationSet& gh::<module>::migrations();
# declared in the generated header "<module>/migrations.hpp", and is regenerated when a file
# changes (a new or removed file re-runs the glob at build time). The target (default
# gh_<module>) must exist and link gh_store.
set(GATEHOUSE_EMBED_MIGRATIONS_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_migrations.cmake)

function(gatehouse_migrations module)
  cmake_parse_arguments(M "" "DIR;TARGET" "" ${ARGN})
  if(NOT M_DIR)
    set(M_DIR ${CMAKE_CURRENT_SOURCE_DIR}/migrations)
  endif()
  if(NOT M_TARGET)
    set(M_TARGET gh_${module})
  endif()
  if(NOT TARGET ${M_TARGET})
    message(FATAL_ERROR "gatehouse_migrations(${module}): target ${M_TARGET} does not exist (call it after gatehouse_module)")
  endif()
  if(NOT module MATCHES "^[a-z][a-z0-9_]*$")
    message(FATAL_ERROR "gatehouse_migrations(${module}): the module name must be a C++ identifier in snake_case")
  endif()
  file(GLOB sql_files CONFIGURE_DEPENDS ${M_DIR}/*.sql)
  set(out_dir ${CMAKE_BINARY_DIR}/generated)
  set(out_hpp ${out_dir}/${module}/migrations.hpp)
  set(out_cpp ${out_dir}/${module}/migrations.cpp)
  add_custom_command(
    OUTPUT ${out_hpp} ${out_cpp}
    COMMAND ${CMAKE_COMMAND} -DMODULE=${module} -DDIR=${M_DIR} -DOUT_HPP=${out_hpp} -DOUT_CPP=${out_cpp}
            -P ${GATEHOUSE_EMBED_MIGRATIONS_SCRIPT}
    DEPENDS ${sql_files} ${GATEHOUSE_EMBED_MIGRATIONS_SCRIPT}
    COMMENT "Embedding the ${module} migrations"
    VERBATIM)
  target_sources(${M_TARGET} PRIVATE ${out_cpp} ${out_hpp})
  target_include_directories(${M_TARGET} PUBLIC ${out_dir})
endfunction()
