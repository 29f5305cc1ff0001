# One line per fuzz target; each area appends its own below.
scc_fuzz_target(ident)
scc_fuzz_target(token)
scc_fuzz_target(tmpl_expr LIBS scc_control)
scc_fuzz_target(tmpl_load LIBS scc_control)
scc_fuzz_target(proxy_response LIBS scc_agent_core)
scc_fuzz_target(run_spec LIBS scc_agent_core)
scc_fuzz_target(h2_server LIBS scc_tunnel)
scc_fuzz_target(csr)
