# The provider wired into sccd (issue #4): rounds that apply the desired
# document built from the store, VMs and NICs as resources, the provider's
# admin routes.
target_sources(scc_control PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/ctl_wire.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_wire_admin.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_compute.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_compute_doc.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_compute_feed.c)
