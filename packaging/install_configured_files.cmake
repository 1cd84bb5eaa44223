# Run by `cmake --install` (install(CODE) in packaging/CMakeLists.txt): writes the files
# that name installed paths, for the prefix of this install (--prefix may differ from the
# configured one), and the config only where there is none yet.
# In: CMAKE_INSTALL_PREFIX (the install's), SOCKHOST_SOURCE_DIR, SOCKHOST_WORK_DIR, and the
# GNUInstallDirs relative directories SOCKHOST_BIN, SOCKHOST_LIB, SOCKHOST_DOC.
set(prefix "${CMAKE_INSTALL_PREFIX}")
# As GNUInstallDirs has it: /usr keeps its configuration in /etc.
if(prefix STREQUAL "/usr")
  set(sysconf "/etc")
else()
  set(sysconf "${prefix}/etc")
endif()
set(SOCKHOST_BINDIR "${prefix}/${SOCKHOST_BIN}")
set(SOCKHOST_DOCDIR "${prefix}/${SOCKHOST_DOC}")
set(SOCKHOST_INSTALLED_PLUGIN_DIR "${prefix}/${SOCKHOST_LIB}/sockhost/plugins")
set(SOCKHOST_INSTALLED_CONFIG "${sysconf}/sockhost/sockhost.json")

configure_file("${SOCKHOST_SOURCE_DIR}/packaging/systemd/sockhost.service.in" "${SOCKHOST_WORK_DIR}/sockhost.service" @ONLY)
configure_file("${SOCKHOST_SOURCE_DIR}/packaging/sockhost.json.in" "${SOCKHOST_WORK_DIR}/sockhost.json.default" @ONLY)
set(read_only OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${SOCKHOST_WORK_DIR}/sockhost.service" DESTINATION "${prefix}/lib/systemd/system" PERMISSIONS ${read_only})
file(INSTALL "${SOCKHOST_WORK_DIR}/sockhost.json.default" DESTINATION "${sysconf}/sockhost" PERMISSIONS ${read_only})
# An operator's config is never replaced: a reinstall leaves it, as nginx leaves nginx.conf.
if(EXISTS "$ENV{DESTDIR}${SOCKHOST_INSTALLED_CONFIG}" OR IS_SYMLINK "$ENV{DESTDIR}${SOCKHOST_INSTALLED_CONFIG}")
  message(STATUS "Kept: $ENV{DESTDIR}${SOCKHOST_INSTALLED_CONFIG} (the new default is sockhost.json.default)")
else()
  file(INSTALL "${SOCKHOST_WORK_DIR}/sockhost.json.default" DESTINATION "${sysconf}/sockhost"
       RENAME sockhost.json PERMISSIONS ${read_only})
endif()
