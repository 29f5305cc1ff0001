# cmake --install BUILD [--prefix P]: the four programs, the systemd units
# (ExecStart= points at this prefix, filled in at install time), a
# systemd-sysusers entry for the agent's account, an agent config example
# and the operator docs.
include(GNUInstallDirs)

install(TARGETS sccd scc-agent sccctl scc-prov RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES README.md docs/operations.md docs/api.md docs/templates.md docs/provider.md
              docs/ARCHITECTURE.md contrib/systemd/agent.json.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES contrib/systemd/scc-agent.sysusers DESTINATION lib/sysusers.d
        RENAME scc-agent.conf)

# configure_file at install time, so that --prefix and DESTDIR are honoured.
foreach(unit sccd scc-agent)
  install(CODE "
    set(SCC_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
    set(SCC_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
    set(dst \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/${unit}.service\")
    message(STATUS \"Installing: \${dst}\")
    configure_file(\"${CMAKE_SOURCE_DIR}/contrib/systemd/${unit}.service.in\" \"\${dst}\" @ONLY)
  ")
endforeach()
