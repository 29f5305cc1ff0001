# The provider (issue #4): what makes networks, gateways, firewalls and VMs
# real on this host (netns) or plain processes (process).  ip(8) and nft(8)
# are run as commands, so there is nothing extra to link.
target_sources(scc_control PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_doc.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_model.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_nft.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_nft_tables.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_run.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_spawn.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_proc.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_netns.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_netns_run.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_netns_gc.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_netns_topo.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_netns_vnet.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_netns_edge.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_netns_vm.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_fwproxy.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_prov_fwproxy_main.c)

# scc-prov: the provider from the command line (tests, benchmarks, the
# firewall proxy).
add_executable(scc-prov ${CMAKE_CURRENT_LIST_DIR}/prov_tool.c)
target_link_libraries(scc-prov PRIVATE scc_control)
