# One line per fuzz target; each area appends its own below.
scc_fuzz_target(ident)
scc_fuzz_target(token)
