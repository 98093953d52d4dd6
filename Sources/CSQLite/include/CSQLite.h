#ifndef C_SQLITE_H
#define C_SQLITE_H
// SQLite's header, and wrappers for what Swift cannot call directly.
#include <sqlite3.h>

// SQLITE_TRANSIENT is a cast macro.
int cn_sqlite3_bind_text_transient(sqlite3_stmt *stmt, int index, const char *text, int length);
int cn_sqlite3_bind_blob_transient(sqlite3_stmt *stmt, int index, const void *bytes, int length);
#endif
