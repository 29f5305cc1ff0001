# Management API tests (src/control/ctl_api*.c, ctl_arm*.c, ctl_net*.c).
scc_unit_test(arm_id LIBS scc_control)
scc_unit_test(arm_net LIBS scc_control)
# The workspace API's checks of what clients send (src/control/ctl_dbx_check.c).
scc_unit_test(dbx_check LIBS scc_control)
# Job schedules: Quartz expressions and time zones (src/control/ctl_dbx_cron.c).
scc_unit_test(dbx_cron LIBS scc_control)
