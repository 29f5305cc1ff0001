# ARM template engine (issue #5).
target_sources(scc_control PRIVATE)
