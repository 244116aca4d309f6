/* The audit trail: one JSON line per client request and per decision of a
 * check, appended to a file.  Each record is written at once (a crash
 * loses at most the one being written).  Argument values appear only when
 * the operator asked for them.
 *
 * The records form a hash chain: each carries "seq" (1, 2, ... in its
 * file) and "prev", the BLAKE2b-256 of the previous record's line (64
 * zeros for the first of a new log; after a rotation the first record of
 * the new file names its predecessor in "prev_file" and carries the hash
 * of its last line).  Editing, removing, inserting or reordering a record
 * breaks the chain at the next one (aud_verify).  A removed tail is found
 * only against a head hash kept elsewhere.  Several gateways may append to
 * one file: each write takes the file's lock and continues the chain from
 * what is there. */
#ifndef MG_AUDIT_H
#define MG_AUDIT_H

#include <jansson.h>

#include "base/buf.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct aud_log;

struct aud_record {
	const char *session;    /* client session id */
	const char *server;     /* NULL when the gateway answered itself */
	const char *method;
	const char *name;       /* tool or prompt name as the client saw it; or URI */
	const char *upstream_name; /* name sent upstream, when different */
	int64_t upstream_id;    /* -1 when not forwarded */
	uint64_t duration_us;
	const char *outcome;    /* ok, error, timeout, cancelled, crashed, refused */
	int error_code;         /* 0 when none */
	const char *error;      /* message, may be NULL */
	uint64_t bytes_in;      /* request bytes from the client */
	uint64_t bytes_out;     /* response bytes to the client */
	const json_t *arguments;/* logged only with log_arguments */
	const char *check;      /* a check's decision (outcome redacted, blocked, refused, logged) */
	const char *finding;    /* what it found: a secret's name or a pattern's kind, never a value */
	const char *detail;
	const char *peer;       /* client address, for refusals at the HTTP door */
};

/* Open (append, create 0600, parent directories made).  NULL path -> a
 * disabled log.  0 or -errno. */
int aud_open(struct aud_log **out, const char *path, bool log_arguments);
void aud_close(struct aud_log *a);
void aud_write(struct aud_log *a, const struct aud_record *r);
/* Rotate the file once it reaches this many bytes (0: never). */
void aud_set_max_size(struct aud_log *a, uint64_t bytes);
/* The hash of the last record written (or found), hex; NULL when disabled. */
const char *aud_head(const struct aud_log *a);

#define AUD_HASH_HEX 65                 /* 64 hex digits and a NUL */
#define AUD_LINE_MAX (64u << 20)
/* BLAKE2b-256 of one record's line (without its newline), in hex. */
void aud_hash_line(const char *line, size_t len, char out[AUD_HASH_HEX]);
/* The last complete line of the file of this size (read backwards). */
int aud_last_line(int fd, off_t size, struct mg_buf *out);

struct aud_verify {
	uint64_t records;               /* chained records checked */
	uint64_t unchained;             /* lines before the chain began */
	uint64_t bad_line;              /* first broken line (1-based), 0: none */
	char why[256];
	char head[AUD_HASH_HEX];        /* hash of the last line */
	bool head_found;                /* --head: a record with that hash exists */
	char prev_file[256];            /* the predecessor the first record names */
	bool prev_checked;              /* ... and its last line matched */
};
/* Check the chain of the file at path; head (may be NULL): a hash kept
 * earlier, which must be some record's.  0: read (see v->bad_line),
 * or -errno. */
int aud_verify(const char *path, const char *head, struct aud_verify *v);
const char *aud_path(const struct aud_log *a);
/* Every record passes f before it is written (secrets redacted). */
void aud_set_filter(struct aud_log *a, mg_text_filter f, void *ctx);

#endif
