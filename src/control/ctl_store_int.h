/*
 * ctl_store_int.h - shared by the ctl_store*.c files only.
 */
#ifndef SCC_CONTROL_CTL_STORE_INT_H
#define SCC_CONTROL_CTL_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

struct ctl_store {
    sqlite3 *db;
    char err[256];
};

int ctl_store_exec(struct ctl_store *st, const char *sql);
int ctl_store_prepare(struct ctl_store *st, const char *sql, sqlite3_stmt **out);
void ctl_store_col_text(sqlite3_stmt *stmt, int col, char *out, size_t cap);
/* Bind s as text, or NULL when s is NULL. */
void ctl_store_bind_text(sqlite3_stmt *stmt, int i, const char *s);
/* A text column as an owned string (NULL for SQL NULL); *ok false on ENOMEM. */
char *ctl_store_col_dup(sqlite3_stmt *stmt, int col, bool *ok);
/* Step a statement that returns no rows and finalize it: 0 or SCC_ESTORE. */
int ctl_store_run(struct ctl_store *st, sqlite3_stmt *stmt);

#endif /* SCC_CONTROL_CTL_STORE_INT_H */
