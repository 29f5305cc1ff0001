/*
 * ctl_store_int.h - shared by the ctl_store*.c files only.
 */
#ifndef SCC_CONTROL_CTL_STORE_INT_H
#define SCC_CONTROL_CTL_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>

struct ctl_store {
    sqlite3 *db;
    char err[256];
};

int ctl_store_exec(struct ctl_store *st, const char *sql);
int ctl_store_prepare(struct ctl_store *st, const char *sql, sqlite3_stmt **out);
void ctl_store_col_text(sqlite3_stmt *stmt, int col, char *out, size_t cap);

#endif /* SCC_CONTROL_CTL_STORE_INT_H */
