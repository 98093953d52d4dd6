/* The SQLite ceiling: how fast SQLite alone stores pre-built rows in the warehouse's
 * table (same columns, same unique row-key index and invoice-day index, same pragmas,
 * same multi-row INSERT OR IGNORE statements of 250 rows, one transaction per 5000 rows),
 * with no parsing and no cleaning. Also the same without any index.
 *
 * usage: sqlite_ceiling DB_PATH ROWS [PRAGMAS]  — prints one JSON line per layout. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { COLUMNS = 15, PER_STATEMENT = 250, PER_TRANSACTION = 5000 };

typedef struct {
    unsigned char key[16];
    char invoice[8], stock[8], description[40], customer[8];
    int64_t quantity, time, day, price, revenue, line;
} Row;

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void check(int status, sqlite3 *db, const char *what) {
    if (status != SQLITE_OK && status != SQLITE_DONE) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static const char *pragmas = "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;";

static void run(const char *path, Row *rows, int count, int indexed) {
    unlink(path);
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    sqlite3 *db;
    check(sqlite3_open(path, &db), db, "open");
    check(sqlite3_exec(db,
        "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA temp_store=MEMORY;", 0, 0, 0), db, "pragmas");
    check(sqlite3_exec(db, pragmas, 0, 0, 0), db, "pragmas");
    check(sqlite3_exec(db,
        "CREATE TABLE order_rows (row_key BLOB NOT NULL, upload_ref INTEGER NOT NULL,"
        " invoice_no TEXT NOT NULL, stock_code TEXT NOT NULL, description TEXT, quantity INTEGER NOT NULL,"
        " invoice_time INTEGER NOT NULL, invoice_day INTEGER NOT NULL, unit_price_micros INTEGER NOT NULL,"
        " revenue_micros INTEGER NOT NULL, customer_id TEXT, country TEXT NOT NULL,"
        " is_cancellation INTEGER NOT NULL, is_product INTEGER NOT NULL, source_line INTEGER NOT NULL);",
        0, 0, 0), db, "schema");
    if (indexed) {
        check(sqlite3_exec(db, "CREATE UNIQUE INDEX order_rows_by_key ON order_rows(row_key);"
                               "CREATE INDEX order_rows_by_day ON order_rows(invoice_day);", 0, 0, 0), db, "index");
    }
    static char sql[PER_STATEMENT * 40 + 256];
    int used = snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO order_rows VALUES ");
    for (int i = 0; i < PER_STATEMENT; i++) {
        used += snprintf(sql + used, sizeof sql - used, "%s(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", i ? "," : "");
    }
    sqlite3_stmt *insert;
    check(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &insert, 0), db, "prepare");
    double wall = now(CLOCK_MONOTONIC), cpu = now(CLOCK_PROCESS_CPUTIME_ID);
    for (int start = 0; start < count; start += PER_TRANSACTION) {
        check(sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0), db, "begin");
        for (int s = start; s < start + PER_TRANSACTION && s < count; s += PER_STATEMENT) {
            int index = 1;
            for (int r = s; r < s + PER_STATEMENT; r++) {
                Row *row = &rows[r < count ? r : count - 1];
                sqlite3_bind_blob(insert, index++, row->key, 16, SQLITE_STATIC);
                sqlite3_bind_int64(insert, index++, 1);
                sqlite3_bind_text(insert, index++, row->invoice, -1, SQLITE_STATIC);
                sqlite3_bind_text(insert, index++, row->stock, -1, SQLITE_STATIC);
                sqlite3_bind_text(insert, index++, row->description, -1, SQLITE_STATIC);
                sqlite3_bind_int64(insert, index++, row->quantity);
                sqlite3_bind_int64(insert, index++, row->time);
                sqlite3_bind_int64(insert, index++, row->day);
                sqlite3_bind_int64(insert, index++, row->price);
                sqlite3_bind_int64(insert, index++, row->revenue);
                sqlite3_bind_text(insert, index++, row->customer, -1, SQLITE_STATIC);
                sqlite3_bind_text(insert, index++, "United Kingdom", -1, SQLITE_STATIC);
                sqlite3_bind_int64(insert, index++, row->invoice[0] == 'C');
                sqlite3_bind_int64(insert, index++, 1);
                sqlite3_bind_int64(insert, index++, row->line);
            }
            check(sqlite3_step(insert), db, "insert");
            sqlite3_reset(insert);
        }
        check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);
    wall = now(CLOCK_MONOTONIC) - wall;
    cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    printf("{\"layout\": \"%s\", \"rows\": %d, \"wall_s\": %.3f, \"cpu_s\": %.3f}\n",
           indexed ? "unique row_key index + invoice_day index" : "no index", count, wall, cpu);
    fflush(stdout);
    unlink(path);
    unlink(wal);
}

int main(int argc, char **argv) {
    if (argc == 4) pragmas = argv[3];
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s DB_PATH ROWS [PRAGMAS]\n", argv[0]);
        return 2;
    }
    int count = atoi(argv[2]);
    Row *rows = calloc((size_t)count, sizeof(Row));
    uint64_t state = 88172645463325252ull;
    for (int i = 0; i < count; i++) {
        Row *row = &rows[i];
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        int64_t time = 1291161600 + i * 30;
        for (int b = 0; b < 8; b++) row->key[b] = (unsigned char)((uint64_t)time >> (56 - 8 * b));
        for (int b = 0; b < 8; b++) row->key[8 + b] = (unsigned char)(state >> (8 * b));
        snprintf(row->invoice, sizeof row->invoice, "%s%d", state % 50 ? "" : "C", 536365 + i / 20);
        snprintf(row->stock, sizeof row->stock, "%d", 20000 + (int)(state % 3500) * 7);
        snprintf(row->description, sizeof row->description, "WHITE HANGING HEART T-LIGHT %d", (int)(state % 997));
        snprintf(row->customer, sizeof row->customer, "%d", 12000 + (int)(state % 6000));
        row->quantity = (int64_t)(state % 24) + 1;
        row->time = time;
        row->day = time / 86400;
        row->price = 2550000;
        row->revenue = row->quantity * row->price;
        row->line = i + 2;
    }
    run(argv[1], rows, count, 1);
    run(argv[1], rows, count, 0);
    free(rows);
    return 0;
}
