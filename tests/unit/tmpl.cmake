# Template engine tests (src/control/ctl_tmpl*.c).
scc_unit_test(tmpl LIBS scc_control)
target_compile_definitions(test_tmpl PRIVATE
  SCC_TMPL_FIXTURE="${CMAKE_SOURCE_DIR}/tests/fixtures/upgrade-npip-template.json")
scc_unit_test(tmpl_expr LIBS scc_control)
# Deployments' request, pre-flight and documents (src/control/ctl_arm_deploy_doc.c).
scc_unit_test(arm_deploy_doc LIBS scc_control)
target_compile_definitions(test_arm_deploy_doc PRIVATE
  SCC_TMPL_FIXTURE="${CMAKE_SOURCE_DIR}/tests/fixtures/upgrade-npip-template.json")
