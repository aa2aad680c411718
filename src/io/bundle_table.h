/* bundle_table.h - reading a LevelDB-format table (the format of TensorFlow's
 * variables.index): a 48-byte footer (metaindex and index block handles, magic
 * 0xdb4775248b80fb57), an index block whose values are handles of data blocks, and data blocks
 * of prefix-compressed keys with restart points. Every block's masked CRC-32C is checked;
 * snappy-compressed blocks are refused with a clear error (TensorFlow writes bundles
 * uncompressed). Every offset and length is checked against the buffer. */
#ifndef GRAPPO_BUNDLE_TABLE_H
#define GRAPPO_BUNDLE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

typedef struct TableEntry {
    char *key; /* owned, NUL-terminated (keys are rebuilt from shared prefixes); a slice's key
                  (starting with a 0 byte, see ordered_code.h) holds NULs: use key_len */
    size_t key_len;
    const uint8_t *value; /* points into the table's buffer */
    size_t value_len;
} TableEntry;

typedef struct BundleTable {
    TableEntry *entries; /* in file order (sorted by key in a valid table) */
    int n;
} BundleTable;

/* Parses every entry of the table in data[0..len) (which must outlive t). Errors are
 * ERR_INPUT naming `what` and what is wrong (bad magic, bad CRC at offset N, ...). */
int bundle_table_parse(const uint8_t *data, size_t len, const char *what, BundleTable *t, Err *err);
void bundle_table_free(BundleTable *t);
/* the entry with exactly this key, or NULL */
const TableEntry *bundle_table_find(const BundleTable *t, const char *key);
/* the same for a binary key (a slice's) */
const TableEntry *bundle_table_find_bytes(const BundleTable *t, const void *key, size_t klen);

/* Bounds: most entries in a table, longest key */
#define BUNDLE_TABLE_MAX_ENTRIES (1 << 22)
#define BUNDLE_TABLE_MAX_KEY 65536

#endif
