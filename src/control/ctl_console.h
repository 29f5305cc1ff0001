/*
 * ctl_console.h - the web console (web/): its files are built into sccd
 * (console.cmake turns them into console_assets.c) and served by the API
 * listener at "/" and "/console/...", without a token.  The page asks the
 * user for a token and makes ordinary API calls with it; nothing about the
 * console is special on the server side.
 */
#ifndef SCC_CONTROL_CTL_CONSOLE_H
#define SCC_CONTROL_CTL_CONSOLE_H

#include <stddef.h>

struct ctl_console_file {
    const char *path; /* "/console/console.js"; the page itself is also "/" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

/* ctl_console_find - the file served at path (without the query), or NULL. */
const struct ctl_console_file *ctl_console_find(const char *path);

#endif /* SCC_CONTROL_CTL_CONSOLE_H */
