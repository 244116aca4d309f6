/* Server-Sent Events parser (the text/event-stream format of the WHATWG
 * HTML standard, "Server-sent events", section "Parsing an event stream"),
 * used on every SSE body a remote MCP server sends (transport/http_client).
 * Pure: bytes in, events out, no I/O.
 *
 * What it implements, exactly as the standard says:
 *   - lines end with CRLF, LF or CR, in any mix, split across chunks
 *     anywhere (a CR at the end of one chunk and an LF at the start of the
 *     next are one line end);
 *   - one U+FEFF byte order mark at the start of the stream is dropped;
 *   - "field: value" (one space after the colon is dropped), "field" alone
 *     means an empty value, lines starting with ':' are comments;
 *   - data: values are joined with "\n"; event: sets the type (default
 *     "message"); id: sets the last event ID unless the value holds a NUL;
 *     retry: sets the reconnection time if the value is all ASCII digits;
 *     unknown fields are ignored;
 *   - a blank line dispatches the event; an event with no data: line is not
 *     dispatched (but still updates the last event ID); an event cut off by
 *     the end of the stream is never dispatched.
 *
 * Caps: the joined data of one event is at most max bytes, the event type
 * TP_SSE_TYPE_MAX and an id TP_SSE_ID_MAX.  An event over a cap is reported
 * once through on_oversize (as soon as the cap is crossed) and then
 * discarded up to its blank line, so memory stays at about max bytes per
 * parser whatever the peer sends. */
#ifndef MG_TP_SSE_H
#define MG_TP_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"

#define TP_SSE_TYPE_MAX 64
#define TP_SSE_ID_MAX 256
/* retry: values saturate here (one day, in milliseconds). */
#define TP_SSE_RETRY_MAX 86400000

struct tp_sse_event {
	/* "message" when the event had no event: field; NUL-terminated, but
	 * compare with type_len: a hostile stream may put a NUL inside. */
	const char *type;
	size_t type_len;
	const char *data;       /* data: lines joined with "\n", NUL-terminated */
	size_t len;             /* length of data, at most the cap */
	const char *id;         /* last event ID after this event; "" = none */
};

struct tp_sse_ops {
	/* One dispatched event, valid during the call only.  Non-zero: stop
	 * (tp_sse_feed returns that value and parses nothing more of the
	 * chunk). */
	int (*on_event)(void *ctx, const struct tp_sse_event *ev);
	/* The current event went over a cap: field is "data", "event" or "id",
	 * max the cap it crossed.  Called once per event; the event will not
	 * be dispatched.  Non-zero: stop, as for on_event. */
	int (*on_oversize)(void *ctx, const char *field, size_t max);
};

/* All state is in here (no hidden allocation besides data's storage). */
struct tp_sse {
	const struct tp_sse_ops *ops;
	void *ctx;
	struct mg_buf data;     /* data buffer, cap max + 1 (trailing "\n") */
	size_t max;
	int64_t retry_ms;       /* -1 until the stream sent a valid retry: */
	char last_id[TP_SSE_ID_MAX + 1];        /* the "last event ID string" */
	char id_buf[TP_SSE_ID_MAX + 1];         /* the "last event ID buffer" */
	char type[TP_SSE_TYPE_MAX + 1];
	size_t type_len;
	char val[TP_SSE_ID_MAX + 1];    /* an id: value being read */
	size_t val_len;
	char name[8];           /* field name being read (longer: unknown) */
	size_t name_len;
	uint64_t retry_acc;
	uint8_t state;
	uint8_t field;
	uint8_t bom;            /* bytes of a BOM seen; 3 = past the check */
	bool in_line;           /* some byte of the current line was seen */
	bool cr;                /* the last byte was a CR */
	bool bad_value;         /* id: with NUL, retry: with a non-digit */
	bool oversize;          /* current event is being discarded */
	uint64_t events;        /* events dispatched so far */
};

/* Is the event of this type (exactly, NUL bytes included)? */
static inline bool tp_sse_is_type(const struct tp_sse_event *ev, const char *type)
{
	return ev->type_len == strlen(type) && memcmp(ev->type, type, ev->type_len) == 0;
}

/* max: cap on one event's joined data (bytes).  ops and ctx are borrowed. */
void tp_sse_init(struct tp_sse *p, size_t max, const struct tp_sse_ops *ops, void *ctx);
void tp_sse_release(struct tp_sse *p);
/* A new connection of the same event source: forget any partial event and
 * expect a BOM again; keep the last event ID and the retry time. */
void tp_sse_restart(struct tp_sse *p);
/* Feed a chunk.  0, or the non-zero value a callback returned. */
int tp_sse_feed(struct tp_sse *p, const char *data, size_t n);

#endif
