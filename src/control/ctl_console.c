/*
 * ctl_console.c - find a console file by its path.  The table is
 * generated at build time from web/ (console.cmake).
 */
#include "ctl_console.h"

#include <string.h>

extern const struct ctl_console_file ctl_console_files[];
extern const size_t ctl_console_nfiles;

const struct ctl_console_file *
ctl_console_find(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/console/index.html";
    for (size_t i = 0; i < ctl_console_nfiles; i++)
        if (strcmp(ctl_console_files[i].path, path) == 0)
            return &ctl_console_files[i];
    return NULL;
}
