# cmake -P SockhostPluginCheck.cmake -DPLUGIN_FILE=... -DPLUGIN_NAME=... -DNM=...
#
# Run after a plugin is linked (sockhost_add_plugin): the host finds a plugin by its one
# dynamic symbol, sockhost_plugin_entry. A C entry without SOCKHOST_EXPORT (hidden by the
# plugin's visibility) or a C++ entry without extern "C" (a mangled name) links fine and
# exports nothing, and the host would only say so at load time. Here the build fails
# instead, saying how to fix it, and the file is removed so that a second build does not
# pass it by.
if(NOT NM)
  return()  # no nm in this toolchain: the host's loader still says what is wrong
endif()
execute_process(COMMAND "${NM}" -D --defined-only "${PLUGIN_FILE}"
  OUTPUT_VARIABLE symbols ERROR_VARIABLE nm_error RESULT_VARIABLE nm_result)
if(NOT nm_result EQUAL 0)
  message(WARNING "sockhost_add_plugin(${PLUGIN_NAME}): cannot list the dynamic symbols of ${PLUGIN_FILE}: ${nm_error}")
  return()
endif()
if(NOT symbols MATCHES "[ \t][TtDdWwVv][ \t]+sockhost_plugin_entry(\n|$)")
  file(REMOVE "${PLUGIN_FILE}")
  message(FATAL_ERROR
    "sockhost_add_plugin(${PLUGIN_NAME}): the plugin exports no sockhost_plugin_entry, so the host cannot "
    "load it. In C++, define the entry with SOCKHOST_PLUGIN(Class, \"name\", \"version\", transports) from "
    "<sockhost/plugin.hpp>; an entry written by hand needs extern \"C\" and SOCKHOST_EXPORT. In C, declare "
    "it SOCKHOST_EXPORT const sockhost_plugin_descriptor *sockhost_plugin_entry(const sockhost_host_api *) "
    "(see the SDK guide, docs/plugin-sdk.md).")
endif()
