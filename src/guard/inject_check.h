/* guard/inject_check: the result-inspection check (--inspect-results).
 *
 * Every message to a client (tool, prompt and resource results, errors,
 * log and progress notifications, a server's sampling and elicitation
 * requests) is read string by string with guard/inject: every string at
 * any depth, member names too, structuredContent and embedded resources'
 * text included; base64 blobs (`blob`, an image's or audio's `data`) are
 * skipped.  The hosts in the request's arguments (gd_msg.request_args)
 * and its URI are the hosts the user named.  Lists and initialize are
 * left to the definition checks.  Requests to servers are not read.
 *
 * What a finding does (suspicious from 5, malicious from 10):
 *   annotate  (default) suspicious or malicious: a notice the model reads
 *             is put first (a text content item of a tools/call result; in
 *             front of the flagged string otherwise), and invisible
 *             characters and escape sequences are removed from every
 *             string that has them; only those strings are re-encoded;
 *   block     malicious: the message does not reach the client (a tool
 *             error for tools/call, an error otherwise); suspicious: as
 *             annotate;
 *   log       recorded only.
 * A clean message is never touched. */
#ifndef MG_GUARD_INJECT_CHECK_H
#define MG_GUARD_INJECT_CHECK_H

#include "guard/check.h"

enum gd_inject_mode {
	GD_INJECT_ANNOTATE,
	GD_INJECT_BLOCK,
	GD_INJECT_LOG,
};

/* 0 or -errno with err.  The pattern database is compiled on a thread
 * of the check's own, started here; a message waits for it only if it
 * comes before the compile is done.  A database that does not compile
 * fails every message closed (run returns its error). */
int gd_inject_check_new(struct gd_check **out, enum gd_inject_mode mode, char *err, size_t errlen);
/* "annotate", "block", "log"; -EINVAL otherwise. */
int gd_inject_mode_parse(const char *s, enum gd_inject_mode *out);

#endif
