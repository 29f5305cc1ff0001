# The web console (web/), built into sccd: console_embed.cmake writes each
# file as bytes into console_assets.c, rebuilt when a file changes.
set(SCC_CONSOLE_FILES index.html console.js console.css)
set(SCC_CONSOLE_DIR ${PROJECT_SOURCE_DIR}/web)
list(TRANSFORM SCC_CONSOLE_FILES PREPEND ${SCC_CONSOLE_DIR}/ OUTPUT_VARIABLE scc_console_deps)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/console_assets.c
  COMMAND ${CMAKE_COMMAND} -DOUT=${CMAKE_CURRENT_BINARY_DIR}/console_assets.c
          -DDIR=${SCC_CONSOLE_DIR} "-DFILES=${SCC_CONSOLE_FILES}"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/console_embed.cmake
  DEPENDS ${scc_console_deps} ${CMAKE_CURRENT_SOURCE_DIR}/console_embed.cmake
  COMMENT "Embedding the web console"
  VERBATIM)
target_sources(scc_control PRIVATE ctl_console.c ${CMAKE_CURRENT_BINARY_DIR}/console_assets.c)
