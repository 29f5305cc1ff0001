# The management API (issue #3): HTTPS listener, ARM resource provider,
# Microsoft.Network resources, and their store queries.
set(CTL_ARM_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/ctl_api.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_api_http.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_auth.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_id.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_job.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_lro.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_rg.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_sub.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_ws.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_ws_net.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_net_api.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_net_build.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_net_build2.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_net_cidr.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_net_desired.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_net_nsg.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_net_refs.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_store_arm.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_deploy.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_deploy_doc.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_arm_deploy_run.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_store_deploy.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_check.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_cron.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_cluster.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_proxy.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_job.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_run.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_wh.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_pool.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_dbx_vm.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_store_dbx.c)
target_sources(scc_control PRIVATE ${CTL_ARM_SOURCES})
