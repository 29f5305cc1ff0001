/*
 * ctl_store_dbx.h - the workspace API's part of the state store: one JSON
 * document per cluster or run, keyed by (workspaceId, kind, id).  The
 * loop keeps the live copies (ctl_dbx.c); the store is what survives a
 * restart.  Worker thread only; 0, SCC_ENOMEM or SCC_ESTORE.
 */
#ifndef SCC_CONTROL_CTL_STORE_DBX_H
#define SCC_CONTROL_CTL_STORE_DBX_H

#include <stdint.h>

#include "ctl_store.h"

int ctl_store_dbx_put(struct ctl_store *st, const char *ws, const char *kind, const char *id,
                      const char *body, int64_t now_ms);
/* ctl_store_dbx_del - absent is not an error. */
int ctl_store_dbx_del(struct ctl_store *st, const char *ws, const char *kind, const char *id);
/* ctl_store_dbx_del_ws - every document of a workspace (it was deleted). */
int ctl_store_dbx_del_ws(struct ctl_store *st, const char *ws);
/* ctl_store_dbx_get - one document's text (owned) into *out;
 * SCC_ENOTFOUND if there is none. */
int ctl_store_dbx_get(struct ctl_store *st, const char *ws, const char *kind, const char *id,
                      char **out);
/* ctl_store_dbx_each - every document of another kind than skip, oldest
 * write first; a
 * non-zero return of fn stops the walk and is returned. */
int ctl_store_dbx_each(struct ctl_store *st, const char *skip,
                       int (*fn)(const char *ws, const char *kind, const char *id, const char *body,
                                 void *arg),
                       void *arg);

#endif /* SCC_CONTROL_CTL_STORE_DBX_H */
