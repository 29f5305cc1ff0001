# Provider tests (src/control/ctl_prov*.c): the nft compilers, the
# document model and the firewall proxy's parsers, all pure.
scc_unit_test(prov_nft LIBS scc_control)
