/* Hosts, ports and the allowlist (see egress_policy.h). */
#include "runtime/egress_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"

#define EG_LABEL_MAX 63

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int eg_port_parse(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* Exactly a.b.c.d in decimal, each 0..255 without leading zeros: the one
 * spelling every parser reads the same way (inet_aton would also take
 * octal, hex and fewer parts). */
static int parse_ipv4(const char *s, size_t n, unsigned char out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0;
		size_t start = i;

		while (i < n && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
			return -EINVAL;
		out[part] = (unsigned char)v;
		if (part < 3 && (i >= n || s[i++] != '.'))
			return -EINVAL;
	}
	return i == n ? 0 : -EINVAL;
}

static int parse_ipv6(const char *s, size_t n, struct eg_target *t, const char **why)
{
	char text[INET6_ADDRSTRLEN + 1];

	if (n == 0 || n >= sizeof(text)) {
		*why = "not a valid IPv6 address";
		return -EINVAL;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	if (memchr(text, '%', n)) {
		*why = "IPv6 zone ids are not accepted";
		return -EINVAL;
	}
	if (inet_pton(AF_INET6, text, t->ip) != 1) {
		*why = "not a valid IPv6 address";
		return -EINVAL;
	}
	t->is_ip = true;
	t->family = AF_INET6;
	inet_ntop(AF_INET6, t->ip, t->host, sizeof(t->host));
	return 0;
}

/* Labels of letters, digits, '-' and '_', 1..63 long, no '-' at either
 * end; the last starts with a letter.  One trailing dot is dropped. */
static int parse_name(const char *s, size_t n, struct eg_target *t, const char **why)
{
	size_t label = 0, last = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > EG_HOST_MAX) {
		*why = n ? "host name too long" : "empty host";
		return -EINVAL;
	}
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || label > EG_LABEL_MAX || s[i - 1] == '-' ||
			    s[i - label] == '-') {
				*why = "not a valid host name";
				return -EINVAL;
			}
			last = i - label;
			label = 0;
			if (i < n)
				t->host[i] = '.';
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') {
			*why = "not a valid host name";
			return -EINVAL;
		}
		t->host[i] = lower(c);
		label++;
	}
	if (!is_alpha(s[last])) {
		*why = "not a valid host name or IPv4 address";
		return -EINVAL;
	}
	t->host[n] = '\0';
	t->is_ip = false;
	t->family = 0;
	return 0;
}

int eg_host_parse(const char *s, size_t n, struct eg_target *t, const char **why)
{
	bool numeric = n > 0;
	const char *dummy;

	if (!why)
		why = &dummy;
	memset(t->ip, 0, sizeof(t->ip));
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
		return parse_ipv6(s + 1, n - 2, t, why);
	if (memchr(s, ':', n) || memchr(s, '[', n) || memchr(s, ']', n)) {
		*why = "IPv6 addresses go in brackets, e.g. [2001:db8::1]:443";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		numeric = numeric && (is_digit(s[i]) || s[i] == '.');
	if (numeric) {
		if (parse_ipv4(s, n, t->ip)) {
			*why = "not a valid IPv4 address (four decimal parts, no leading zeros)";
			return -EINVAL;
		}
		t->is_ip = true;
		t->family = AF_INET;
		inet_ntop(AF_INET, t->ip, t->host, sizeof(t->host));
		return 0;
	}
	return parse_name(s, n, t, why);
}

void eg_target_format(const struct eg_target *t, char *out, size_t size)
{
	if (t->is_ip && t->family == AF_INET6)
		snprintf(out, size, "[%s]:%u", t->host, (unsigned)t->port);
	else
		snprintf(out, size, "%s:%u", t->host, (unsigned)t->port);
}

/* ---- the allowlist ---- */

static int parse_rule(const char *spec, struct eg_rule *r, struct mg_err *err)
{
	const char *end = spec + strlen(spec), *slash = strchr(spec, '/'), *colon, *host = spec;
	const char *why = NULL;

	memset(r, 0, sizeof(*r));
	if (slash) {
		if (strcmp(slash, "/http") && strcmp(slash, "/https") && strcmp(slash, "/tcp"))
			return mg_err_set(err, -EINVAL, "allowed host '%s': the suffix after '/' must "
					  "be http, https or tcp", spec);
		end = slash;
	}
	colon = end;
	while (colon > spec && colon[-1] != ':' && colon[-1] != ']')
		colon--;
	if (colon == spec || colon[-1] != ':')
		return mg_err_set(err, -EINVAL, "allowed host '%s': a port is required "
				  "(HOST:PORT, e.g. api.github.com:443)", spec);
	if (end - colon == 1 && *colon == '*')
		return mg_err_set(err, -EINVAL, "allowed host '%s': '*' (any port) is not accepted; "
				  "list each port", spec);
	if (eg_port_parse(colon, (size_t)(end - colon), &r->t.port))
		return mg_err_set(err, -EINVAL, "allowed host '%s': the port must be a number "
				  "from 1 to 65535", spec);
	if (host[0] == '*' && host + 1 == colon - 1)
		return mg_err_set(err, -EINVAL, "allowed host '%s': '*' alone would allow every "
				  "host; name the hosts (a wildcard is '*.example.com')", spec);
	if (host[0] == '*') {
		if (host[1] != '.')
			return mg_err_set(err, -EINVAL, "allowed host '%s': a wildcard is written "
					  "'*.example.com'", spec);
		r->wildcard = true;
		host += 2;
	}
	if (memchr(host, '*', (size_t)(colon - 1 - host)))
		return mg_err_set(err, -EINVAL, "allowed host '%s': '*' is only accepted as the "
				  "whole first label ('*.example.com')", spec);
	if (eg_host_parse(host, (size_t)(colon - 1 - host), &r->t, &why))
		return mg_err_set(err, -EINVAL, "allowed host '%s': %s", spec, why);
	if (r->wildcard && r->t.is_ip)
		return mg_err_set(err, -EINVAL, "allowed host '%s': a wildcard needs a domain "
				  "name, not an address", spec);
	return 0;
}

int eg_policy_parse(struct eg_policy *pol, char *const *specs, struct mg_err *err)
{
	size_t n = 0;
	int rc;

	memset(pol, 0, sizeof(*pol));
	while (specs && specs[n])
		n++;
	pol->rules = mg_calloc(n ? n : 1, sizeof(*pol->rules));
	for (size_t i = 0; i < n; i++) {
		struct eg_rule *r = &pol->rules[pol->n];

		if ((rc = parse_rule(specs[i], r, err))) {
			eg_policy_release(pol);
			return rc;
		}
		if (r->t.is_ip && eg_addr_classify(r->t.family, r->t.ip, NULL) == EG_ADDR_METADATA)
			mg_warn("allowed host '%s' is a cloud metadata address: it will be refused "
				"anyway", specs[i]);
		pol->n++;
	}
	return 0;
}

void eg_policy_release(struct eg_policy *pol)
{
	free(pol->rules);
	pol->rules = NULL;
	pol->n = 0;
}

static bool rule_matches(const struct eg_rule *r, const struct eg_target *t)
{
	size_t hl, sl;

	if (r->t.port != t->port || r->t.is_ip != t->is_ip)
		return false;
	if (t->is_ip)
		return r->t.family == t->family &&
		       memcmp(r->t.ip, t->ip, t->family == AF_INET ? 4 : 16) == 0;
	if (!r->wildcard)
		return strcmp(r->t.host, t->host) == 0;
	hl = strlen(t->host);
	sl = strlen(r->t.host);
	return hl > sl + 1 && t->host[hl - sl - 1] == '.' && strcmp(t->host + hl - sl, r->t.host) == 0;
}

const struct eg_rule *eg_policy_match(const struct eg_policy *pol, const struct eg_target *t)
{
	for (size_t i = 0; i < pol->n; i++)
		if (rule_matches(&pol->rules[i], t))
			return &pol->rules[i];
	return NULL;
}
