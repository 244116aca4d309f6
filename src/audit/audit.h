/* The audit trail: one JSON line per client request, appended to a file.
 * Written from the loop thread with a buffered stream; each record is
 * flushed at once so that a crash loses at most the record being written.
 * Argument values appear only when the operator asked for them. */
#ifndef MG_AUDIT_H
#define MG_AUDIT_H

#include <jansson.h>

#include "base/buf.h"
#include <stdbool.h>
#include <stdint.h>

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
};

/* Open (append, create 0600, parent directories made).  NULL path -> a
 * disabled log.  0 or -errno. */
int aud_open(struct aud_log **out, const char *path, bool log_arguments);
void aud_close(struct aud_log *a);
void aud_write(struct aud_log *a, const struct aud_record *r);
const char *aud_path(const struct aud_log *a);
/* Every record passes f before it is written (secrets redacted). */
void aud_set_filter(struct aud_log *a, mg_text_filter f, void *ctx);

#endif
