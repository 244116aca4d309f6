/* What a sandbox may reach through the egress proxy: host names and
 * addresses (one parser for the policy and for requests, so that both
 * spell a host the same way), the allowlist in Docker's allowHosts format,
 * and the classes of addresses that are never a destination.  No network
 * I/O, no resolution. */
#ifndef MG_RT_EGRESS_POLICY_H
#define MG_RT_EGRESS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define EG_HOST_MAX 253         /* a DNS name, or an address in text */

/* One host:port, normalised: a name in lower case without a trailing dot,
 * or an IP address (then ip/family hold it and host its canonical text,
 * without brackets). */
struct eg_target {
	char host[EG_HOST_MAX + 1];
	uint16_t port;
	bool is_ip;
	int family;             /* AF_INET or AF_INET6 when is_ip */
	unsigned char ip[16];   /* network order; 4 bytes used for AF_INET */
};

/* Parse a host (name, dotted-quad IPv4, or [IPv6]) of n bytes into t
 * (port untouched).  Names: letters, digits, '-', '_' in labels of 1..63,
 * at most 253 in all, the last label starting with a letter (so that
 * "127.1" or "0x7f000001", which some resolvers read as addresses, are
 * refused rather than guessed).  IPv4: exactly four decimal parts, no
 * leading zeros.  IPv6: bracketed, no zone.  0 or -EINVAL with *why. */
int eg_host_parse(const char *s, size_t n, struct eg_target *t, const char **why);
/* "1".."65535", digits only, no leading zero.  0 or -EINVAL. */
int eg_port_parse(const char *s, size_t n, uint16_t *port);
/* "host:port" or "[v6]:port" for logs and answers. */
void eg_target_format(const struct eg_target *t, char *out, size_t size);

/* ---- the allowlist ---- */

struct eg_rule {
	struct eg_target t;     /* for a wildcard: the suffix after "*." */
	bool wildcard;          /* "*.example.com": any subdomain, not the apex */
};

struct eg_policy {
	struct eg_rule *rules;  /* owned */
	size_t n;
};

/* Parse a NULL-terminated list of specs in Docker's allowHosts format,
 * "host:port", with an optional "/http", "/https" or "/tcp" suffix that is
 * accepted and ignored (every destination is reached the same way, a
 * CONNECT tunnel or a forwarded plain HTTP request).  The port is
 * required: "*" (any port) and a host of "*" alone are refused.  IPv6
 * addresses in brackets: "[2001:db8::1]:443".  A listed cloud metadata
 * address is accepted with a warning (it is refused at every request).
 * 0, or -EINVAL with err naming the spec and the problem (pol is then
 * empty).  Release with eg_policy_release either way. */
int eg_policy_parse(struct eg_policy *pol, char *const *specs, struct mg_err *err);
void eg_policy_release(struct eg_policy *pol);
/* The rule that allows t, or NULL.  A name matches an equal name or a
 * wildcard whose suffix it ends with (after a dot); an address matches
 * only the same address written as such (never a wildcard, never a name). */
const struct eg_rule *eg_policy_match(const struct eg_policy *pol, const struct eg_target *t);

/* ---- addresses that are never a destination ---- */

enum eg_addr_class {
	EG_ADDR_PUBLIC,
	EG_ADDR_INTERNAL,       /* loopback, private, link-local, ...: refused
				 * unless the policy lists the address itself */
	EG_ADDR_METADATA,       /* cloud metadata endpoints: always refused */
};

/* Classify an address (family AF_INET: 4 bytes, AF_INET6: 16 bytes).
 * IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
 * addresses are classified by the IPv4 address they carry; the deprecated
 * IPv4-compatible ones (::/96) are internal.  *why (may be NULL) is a
 * static name of the range, e.g. "loopback". */
enum eg_addr_class eg_addr_classify(int family, const unsigned char *ip, const char **why);

#endif
