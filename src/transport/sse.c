#include "transport/sse.h"

#include <string.h>

/* Where in a line the parser is. */
enum { ST_NAME, ST_SPACE, ST_VALUE };
/* Which field the value belongs to. */
enum { F_IGNORE, F_DATA, F_EVENT, F_ID, F_RETRY };

static const char bom_bytes[3] = { '\xEF', '\xBB', '\xBF' };

static void line_reset(struct tp_sse *p)
{
	p->state = ST_NAME;
	p->field = F_IGNORE;
	p->name_len = 0;
	p->in_line = false;
}

static void event_reset(struct tp_sse *p)
{
	mg_buf_reset(&p->data);
	p->type_len = 0;
	p->type[0] = '\0';
	p->oversize = false;
}

void tp_sse_init(struct tp_sse *p, size_t max, const struct tp_sse_ops *ops, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->ctx = ctx;
	p->max = max;
	p->retry_ms = -1;
	mg_buf_init(&p->data, max + 1);
	line_reset(p);
}

void tp_sse_release(struct tp_sse *p)
{
	mg_buf_release(&p->data);
}

void tp_sse_restart(struct tp_sse *p)
{
	event_reset(p);
	line_reset(p);
	p->cr = false;
	p->bom = 0;
	/* The last event ID buffer starts from what the source last saw. */
	memcpy(p->id_buf, p->last_id, sizeof(p->id_buf));
}

/* The current event crossed a cap: report once, drop what it holds. */
static int oversize(struct tp_sse *p, const char *field, size_t max)
{
	if (p->oversize)
		return 0;
	p->oversize = true;
	mg_buf_release(&p->data);
	return p->ops->on_oversize ? p->ops->on_oversize(p->ctx, field, max) : 0;
}

static int dispatch(struct tp_sse *p)
{
	struct tp_sse_event ev;
	int rc;

	memcpy(p->last_id, p->id_buf, sizeof(p->last_id));
	if (p->oversize || p->data.len == 0) {
		event_reset(p);
		return 0;
	}
	mg_buf_truncate(&p->data, p->data.len - 1);     /* the last "\n" */
	ev.type = p->type_len ? p->type : "message";
	ev.type_len = p->type_len ? p->type_len : strlen("message");
	ev.data = p->data.data;
	ev.len = p->data.len;
	ev.id = p->last_id;
	p->events++;
	rc = p->ops->on_event(p->ctx, &ev);
	event_reset(p);
	return rc;
}

/* The field name is complete (at ':' or at the end of the line). */
static void begin_value(struct tp_sse *p)
{
	static const struct {
		const char *name;
		uint8_t field;
	} fields[] = {
		{ "data", F_DATA }, { "event", F_EVENT }, { "id", F_ID }, { "retry", F_RETRY },
	};

	p->field = F_IGNORE;
	if (p->name_len < sizeof(p->name)) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (p->name_len == strlen(fields[i].name) &&
			    memcmp(p->name, fields[i].name, p->name_len) == 0)
				p->field = fields[i].field;
		}
	}
	p->bad_value = false;
	p->val_len = 0;
	p->retry_acc = 0;
	if (p->field == F_EVENT) {
		p->type_len = 0;
		p->type[0] = '\0';
	}
}

/* Bytes of the current field's value (no line end inside). */
static int add_value(struct tp_sse *p, const char *s, size_t n)
{
	switch (p->field) {
	case F_DATA:
		if (p->oversize)
			return 0;
		if (mg_buf_add(&p->data, s, n))
			return oversize(p, "data", p->max);
		return 0;
	case F_EVENT:
		if (p->oversize)
			return 0;
		if (n > TP_SSE_TYPE_MAX - p->type_len)
			return oversize(p, "event", TP_SSE_TYPE_MAX);
		memcpy(p->type + p->type_len, s, n);
		p->type_len += n;
		p->type[p->type_len] = '\0';
		return 0;
	case F_ID:
		if (p->bad_value)
			return 0;
		if (n > TP_SSE_ID_MAX - p->val_len) {
			p->bad_value = true;
			return oversize(p, "id", TP_SSE_ID_MAX);
		}
		memcpy(p->val + p->val_len, s, n);
		p->val_len += n;
		return 0;
	case F_RETRY:
		for (size_t i = 0; i < n && !p->bad_value; i++) {
			if (s[i] < '0' || s[i] > '9') {
				p->bad_value = true;
				break;
			}
			p->retry_acc = p->retry_acc * 10 + (uint64_t)(s[i] - '0');
			if (p->retry_acc > TP_SSE_RETRY_MAX)
				p->retry_acc = TP_SSE_RETRY_MAX;
			p->val_len = 1;         /* at least one digit */
		}
		return 0;
	case F_IGNORE:
	default:
		return 0;
	}
}

/* The value is complete: apply the field. */
static int end_value(struct tp_sse *p)
{
	switch (p->field) {
	case F_DATA:
		if (p->oversize)
			return 0;
		if (mg_buf_addc(&p->data, '\n'))
			return oversize(p, "data", p->max);
		return 0;
	case F_ID:
		if (!p->bad_value && !memchr(p->val, '\0', p->val_len)) {
			memcpy(p->id_buf, p->val, p->val_len);
			p->id_buf[p->val_len] = '\0';
		}
		return 0;
	case F_RETRY:
		if (!p->bad_value && p->val_len)
			p->retry_ms = (int64_t)p->retry_acc;
		return 0;
	case F_EVENT:
	case F_IGNORE:
	default:
		return 0;
	}
}

static int end_line(struct tp_sse *p)
{
	int rc = 0;

	if (!p->in_line) {
		rc = dispatch(p);
	} else {
		if (p->state == ST_NAME)
			begin_value(p); /* "field" alone: empty value */
		rc = end_value(p);      /* comments end as ignored values */
	}
	line_reset(p);
	return rc;
}

static int feed_body(struct tp_sse *p, const char *s, size_t n)
{
	const char *end = s + n;
	int rc;

	while (s < end) {
		char c = *s;

		if (c == '\n' || c == '\r') {
			bool lf_of_crlf = c == '\n' && p->cr;

			p->cr = c == '\r';
			s++;
			if (lf_of_crlf)
				continue;
			if ((rc = end_line(p)))
				return rc;
			continue;
		}
		p->cr = false;
		switch (p->state) {
		case ST_NAME:
			if (c == ':') {
				if (!p->in_line) {
					/* A comment: skip to the line end as an ignored
					 * value. */
					p->in_line = true;
					p->field = F_IGNORE;
					p->state = ST_VALUE;
					s++;
					break;
				}
				begin_value(p);
				p->state = ST_SPACE;
			} else if (p->name_len < sizeof(p->name)) {
				p->name[p->name_len++] = c;
			}
			/* names longer than any known field stay unknown */
			p->in_line = true;
			s++;
			break;
		case ST_SPACE:
			/* One space after the colon is not part of the value. */
			p->state = ST_VALUE;
			if (c == ' ')
				s++;
			break;
		case ST_VALUE:
		default: {
			const char *run = s;

			while (s < end && *s != '\n' && *s != '\r')
				s++;
			if ((rc = add_value(p, run, (size_t)(s - run))))
				return rc;
			break;
		}
		}
	}
	return 0;
}

int tp_sse_feed(struct tp_sse *p, const char *data, size_t n)
{
	/* A byte order mark is only looked for at the very start. */
	while (p->bom < 3 && n > 0) {
		if (*data == bom_bytes[p->bom]) {
			p->bom++;
			data++;
			n--;
			continue;
		}
		/* Not a BOM after all: the bytes taken so far are content. */
		size_t seen = p->bom;
		int rc;

		p->bom = 3;
		if (seen && (rc = feed_body(p, bom_bytes, seen)))
			return rc;
	}
	return feed_body(p, data, n);
}
