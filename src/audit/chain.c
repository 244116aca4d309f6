/* The audit log's hash chain: hashing a record, finding the last one, and
 * checking a whole file (see audit.h). */
#include "audit/audit.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "json/jx.h"

void aud_hash_line(const char *line, size_t len, char out[AUD_HASH_HEX])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)line, len, NULL, 0);
	sodium_bin2hex(out, AUD_HASH_HEX, h, sizeof(h));
}

int aud_last_line(int fd, off_t size, struct mg_buf *out)
{
	off_t end = size, at;
	char chunk[8192];

	/* the file ends with a newline; the last line starts after the one before */
	while (end > 0) {
		char c;

		if (pread(fd, &c, 1, end - 1) != 1)
			return -EIO;
		if (c != '\n')
			break;
		end--;
	}
	at = end;
	while (at > 0) {
		size_t n = (size_t)(at < (off_t)sizeof(chunk) ? at : (off_t)sizeof(chunk));
		char *nl;

		if (pread(fd, chunk, n, at - (off_t)n) != (ssize_t)n)
			return -EIO;
		nl = memrchr(chunk, '\n', n);
		if (nl) {
			at = at - (off_t)n + (nl - chunk) + 1;
			break;
		}
		at -= (off_t)n;
		if (end - at > (off_t)AUD_LINE_MAX)
			return -EFBIG;
	}
	mg_buf_reset(out);
	if (mg_buf_reserve(out, (size_t)(end - at)))
		return -EFBIG;
	if (pread(fd, out->data, (size_t)(end - at), at) != (ssize_t)(end - at))
		return -EIO;
	out->len = (size_t)(end - at);
	out->data[out->len] = '\0';
	return 0;
}

static void bad(struct aud_verify *v, uint64_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bad(struct aud_verify *v, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (v->bad_line)
		return;
	v->bad_line = line;
	n = snprintf(v->why, sizeof(v->why), "line %llu: ", (unsigned long long)line);
	va_start(ap, fmt);
	vsnprintf(v->why + n, sizeof(v->why) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* The first record names its predecessor: check that file's last line. */
static void check_predecessor(const char *path, const char *prev_file, const char *prev,
			      struct aud_verify *v)
{
	char dir[4096], pred[4096 + 256];
	const char *slash = strrchr(path, '/');
	struct mg_buf last;
	int fd;

	snprintf(v->prev_file, sizeof(v->prev_file), "%s", prev_file);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	snprintf(pred, sizeof(pred), "%s/%s", dir, prev_file);
	fd = open(pred, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	mg_buf_init(&last, AUD_LINE_MAX);
	off_t size = lseek(fd, 0, SEEK_END);

	if (size > 0 && aud_last_line(fd, size, &last) == 0) {
		char h[AUD_HASH_HEX];

		aud_hash_line(last.data, last.len, h);
		v->prev_checked = true;
		if (strcmp(h, prev) != 0)
			bad(v, 1, "its predecessor %s does not end with the record it names", prev_file);
	}
	mg_buf_release(&last);
	close(fd);
}

int aud_verify(const char *path, const char *head, struct aud_verify *v)
{
	static const char zeros[AUD_HASH_HEX] = "0000000000000000000000000000000000000000000000000000000000000000";
	FILE *f = fopen(path, "re");
	char *line = NULL, prev[AUD_HASH_HEX] = "";
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0;
	bool chained = false;

	memset(v, 0, sizeof(*v));
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) >= 0) {
		json_error_t je;
		json_t *rec;
		char h[AUD_HASH_HEX];

		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		aud_hash_line(line, (size_t)n, h);
		rec = n ? jx_parse(line, (size_t)n, &je) : NULL;
		if (!rec) {
			bad(v, lineno, "not a JSON record%s", n ? " (cut short or edited)" : " (empty)");
		} else if (!json_is_string(json_object_get(rec, "prev"))) {
			if (chained)
				bad(v, lineno, "a record without its chain fields (inserted)");
			else
				v->unchained++;
		} else {
			const char *p = json_string_value(json_object_get(rec, "prev"));
			const char *pf = jx_str(rec, "prev_file");
			json_t *seq = json_object_get(rec, "seq");

			if (chained) {
				if (strcmp(p, prev) != 0)
					bad(v, lineno, "prev does not match the line before: that line was "
					    "changed, or a line was removed, inserted or moved here");
			} else if (pf) {
				check_predecessor(path, pf, p, v);
			} else if (strcmp(p, v->unchained ? prev : zeros) != 0) {
				bad(v, lineno, "the first record does not start the chain: the records "
				    "before it were removed");
			}
			if (!json_is_integer(seq) || json_integer_value(seq) != (json_int_t)(v->records + 1))
				bad(v, lineno, "seq %lld where %llu was due: records were removed, inserted "
				    "or reordered", json_is_integer(seq) ? (long long)json_integer_value(seq)
				    : -1LL, (unsigned long long)(v->records + 1));
			chained = true;
			v->records++;
		}
		json_decref(rec);
		memcpy(prev, h, sizeof(h));
		if (head && strcmp(h, head) == 0)
			v->head_found = true;
	}
	free(line);
	fclose(f);
	memcpy(v->head, prev, sizeof(prev));
	if (head && !v->head_found)
		bad(v, lineno, "the head %s is no record of this file: records were removed from its "
		    "end (or it belongs to another log)", head);
	return 0;
}
