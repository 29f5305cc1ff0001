# ARM template engine (issue #5).
set(CTL_TMPL_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_expr.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_value.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_param.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_res.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_graph.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_out.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_fn.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_fn_coll.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_fn_str.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_tmpl_fn_arm.c)
target_sources(scc_control PRIVATE ${CTL_TMPL_SOURCES})
