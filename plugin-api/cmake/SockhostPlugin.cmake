# sockhost_add_plugin(NAME SOURCES source...)
#
# Builds the plugin NAME.so: a MODULE library without the "lib" prefix, compiled with
# hidden visibility and linked with a version script that exports the entry symbol alone
# (libstdc++ template instances would otherwise leak out, some as GNU "unique" symbols that
# bind across RTLD_LOCAL), and with --no-undefined so that a missing symbol fails the build
# instead of the host's dlopen; after the link, a plugin that exports no sockhost_plugin_entry
# fails the build with how to fix it. When SOCKHOST_PLUGIN_OUTPUT_DIRECTORY is set, NAME.so is
# written there.
# Shipped in the installed package and used by the in-tree build alike.
include_guard(GLOBAL)
include(CheckLinkerFlag)

function(_sockhost_check_plugin_link_flags)
  if(DEFINED CACHE{SOCKHOST_LINKER_HAS_Z_DEFS})
    return()
  endif()
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if("CXX" IN_LIST languages)
    set(language CXX)
  elseif("C" IN_LIST languages)
    set(language C)
  else()
    message(FATAL_ERROR "sockhost_add_plugin: enable C or C++ in project() first")
  endif()
  check_linker_flag(${language} "LINKER:-z,defs" SOCKHOST_LINKER_HAS_Z_DEFS)
endfunction()

function(sockhost_add_plugin NAME)
  cmake_parse_arguments(PARSE_ARGV 1 PLUGIN "" "" "SOURCES")
  if(PLUGIN_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "sockhost_add_plugin(${NAME}): unknown arguments: ${PLUGIN_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT PLUGIN_SOURCES)
    message(FATAL_ERROR "sockhost_add_plugin(${NAME}): SOURCES is required")
  endif()
  _sockhost_check_plugin_link_flags()
  # The version script, one per build tree; file(CONFIGURE) rewrites it only if it changes.
  set(exports_map "${CMAKE_BINARY_DIR}/sockhost_plugin_exports.map")
  file(CONFIGURE OUTPUT "${exports_map}"
    CONTENT "{\n  global: sockhost_plugin_entry;\n  local: *;\n};\n")

  add_library(${NAME} MODULE ${PLUGIN_SOURCES})
  set_target_properties(${NAME} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(DEFINED SOCKHOST_PLUGIN_OUTPUT_DIRECTORY)
    set_target_properties(${NAME} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${SOCKHOST_PLUGIN_OUTPUT_DIRECTORY}")
  endif()
  target_link_libraries(${NAME} PRIVATE sockhost::plugin_api)
  # plugin.hpp needs C++20 (concepts); a project may choose a newer standard.
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if("CXX" IN_LIST languages)
    target_compile_features(${NAME} PRIVATE cxx_std_20)
  endif()
  target_link_options(${NAME} PRIVATE "LINKER:--no-undefined"
    "LINKER:--version-script=${exports_map}")
  set_property(TARGET ${NAME} APPEND PROPERTY LINK_DEPENDS "${exports_map}")
  if(SOCKHOST_LINKER_HAS_Z_DEFS)
    target_link_options(${NAME} PRIVATE "LINKER:-z,defs")
  endif()
  # A plugin that exports no entry fails the build here, not the host's load (the check
  # script is beside this file).
  add_custom_command(TARGET ${NAME} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DPLUGIN_FILE=$<TARGET_FILE:${NAME}> -DPLUGIN_NAME=${NAME} -DNM=${CMAKE_NM}
      -P ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/SockhostPluginCheck.cmake
    VERBATIM)
endfunction()
