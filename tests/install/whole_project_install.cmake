# `cmake --install` of the whole build tree to a fresh prefix, as `make install` does to
# /usr/local: the binary, the bundled plugins, the SDK, the systemd unit and a config,
# naming the installed paths. Then the installed binary checks the installed config with
# the installed plugins, and a second install keeps an operator's edited config.
# In: BUILD_DIR, PREFIX (emptied first).
file(REMOVE_RECURSE "${PREFIX}")

function(install_tree)
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "cmake --install failed (${result}):\n${output}")
  endif()
  set(install_output "${output}" PARENT_SCOPE)
endfunction()

function(expect_file path)
  if(NOT EXISTS "${PREFIX}/${path}")
    message(FATAL_ERROR "not installed: ${PREFIX}/${path}")
  endif()
endfunction()

install_tree()
foreach(path bin/sockhost lib/sockhost/plugins/echo.so lib/sockhost/plugins/http.so
             lib/sockhost/plugins/kv.so lib/sockhost/plugins/daytime.so include/sockhost/plugin.h
             include/sockhost/plugin.hpp include/sockhost/testing.hpp lib/cmake/sockhost/sockhostConfig.cmake
             lib/systemd/system/sockhost.service etc/sockhost/sockhost.json etc/sockhost/sockhost.json.default
             share/doc/sockhost/operations.md share/doc/sockhost/examples/sockhost.socket)
  expect_file(${path})
endforeach()
file(READ "${PREFIX}/lib/systemd/system/sockhost.service" unit)
foreach(line "ExecStart=${PREFIX}/bin/sockhost -c ${PREFIX}/etc/sockhost/sockhost.json"
             "ExecStartPre=${PREFIX}/bin/sockhost --check -c ${PREFIX}/etc/sockhost/sockhost.json"
             "ExecReload=${PREFIX}/bin/sockhost reload -c ${PREFIX}/etc/sockhost/sockhost.json")
  string(FIND "${unit}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "sockhost.service lacks '${line}':\n${unit}")
  endif()
endforeach()
string(FIND "${unit}" "@" placeholder)
if(NOT placeholder EQUAL -1)
  message(FATAL_ERROR "sockhost.service has an unreplaced @placeholder@:\n${unit}")
endif()

# The installed binary, config and plugins work together. The config's control socket is
# in /run/sockhost, which the unit's RuntimeDirectory= creates: checked here with one in
# the prefix instead.
file(READ "${PREFIX}/etc/sockhost/sockhost.json" config)
string(REPLACE "/run/sockhost/control.sock" "${PREFIX}/run/control.sock" config "${config}")
file(MAKE_DIRECTORY "${PREFIX}/run")
file(WRITE "${PREFIX}/check.json" "${config}")
execute_process(COMMAND "${PREFIX}/bin/sockhost" --check -c "${PREFIX}/check.json"
                RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the installed sockhost --check of the installed config failed (${result}):\n${output}")
endif()
string(FIND "${output}" "${PREFIX}/lib/sockhost/plugins/http.so" at)
if(at EQUAL -1)
  message(FATAL_ERROR "--check did not load the installed http plugin:\n${output}")
endif()

find_program(systemd_analyze systemd-analyze)
if(systemd_analyze)
  execute_process(COMMAND "${systemd_analyze}" verify "${PREFIX}/lib/systemd/system/sockhost.service"
                  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "systemd-analyze verify sockhost.service failed (${result}):\n${output}")
  endif()
endif()

# A second install keeps the operator's config and refreshes the default beside it.
file(WRITE "${PREFIX}/etc/sockhost/sockhost.json" "{\"listeners\": []}\n")
install_tree()
file(READ "${PREFIX}/etc/sockhost/sockhost.json" kept)
if(NOT kept STREQUAL "{\"listeners\": []}\n")
  message(FATAL_ERROR "a reinstall replaced the operator's config:\n${kept}")
endif()
string(FIND "${install_output}" "Kept: ${PREFIX}/etc/sockhost/sockhost.json" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the reinstall did not say it kept the config:\n${install_output}")
endif()
expect_file(etc/sockhost/sockhost.json.default)
message(STATUS "installed and checked in ${PREFIX}")
