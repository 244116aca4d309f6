/* Addresses a sandbox must never reach through the proxy, whatever name
 * led to them: the host itself and its networks (loopback, private and
 * link-local ranges), special-purpose ranges, and above all the cloud
 * metadata endpoints, which hand out the host's credentials. */
#include "runtime/egress_policy.h"

#include <netinet/in.h>
#include <string.h>

#include "base/mem.h"

struct v4_range {
	uint32_t net;
	unsigned bits;
	const char *why;
};

/* Longer prefixes first where ranges nest (broadcast inside 240/4). */
static const struct v4_range v4_internal[] = {
	{ 0x00000000u, 8, "this network (0.0.0.0/8)" },
	{ 0x0a000000u, 8, "private (10/8)" },
	{ 0x64400000u, 10, "shared address space (100.64/10)" },
	{ 0x7f000000u, 8, "loopback" },
	{ 0xa9fe0000u, 16, "link-local (169.254/16)" },
	{ 0xac100000u, 12, "private (172.16/12)" },
	{ 0xc0000000u, 24, "IETF protocol assignments (192.0.0.0/24)" },
	{ 0xc0a80000u, 16, "private (192.168/16)" },
	{ 0xc6120000u, 15, "benchmarking (198.18/15)" },
	{ 0xe0000000u, 4, "multicast" },
	{ 0xffffffffu, 32, "broadcast" },
	{ 0xf0000000u, 4, "reserved (240/4)" },
};

/* AWS, GCP, Azure, Oracle (169.254.169.254), ECS task credentials
 * (169.254.170.2), EKS Pod Identity (169.254.170.23), Alibaba
 * (100.100.100.200). */
static const uint32_t v4_metadata[] = { 0xa9fea9feu, 0xa9feaa02u, 0xa9feaa17u, 0x646464c8u };

/* AWS over IPv6: the instance metadata service and EKS Pod Identity. */
static const unsigned char v6_metadata[][16] = {
	{ 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54 },
	{ 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x23 },
};

static enum eg_addr_class classify_v4(const unsigned char *ip, const char **why)
{
	uint32_t a = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3];

	for (size_t i = 0; i < MG_ARRAY_LEN(v4_metadata); i++)
		if (a == v4_metadata[i]) {
			*why = "cloud metadata";
			return EG_ADDR_METADATA;
		}
	for (size_t i = 0; i < MG_ARRAY_LEN(v4_internal); i++) {
		uint32_t mask = 0xffffffffu << (32 - v4_internal[i].bits);

		if ((a & mask) == v4_internal[i].net) {
			*why = v4_internal[i].why;
			return EG_ADDR_INTERNAL;
		}
	}
	*why = "public";
	return EG_ADDR_PUBLIC;
}

static bool prefix_is(const unsigned char *ip, const unsigned char *pfx, size_t bytes)
{
	return memcmp(ip, pfx, bytes) == 0;
}

static enum eg_addr_class classify_v6(const unsigned char *ip, const char **why)
{
	static const unsigned char zero[16], mapped[12] = { [10] = 0xff, [11] = 0xff },
		nat64[12] = { 0x00, 0x64, 0xff, 0x9b }, nat64_local[6] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 },
		discard[8] = { 0x01, 0x00 }, doc[4] = { 0x20, 0x01, 0x0d, 0xb8 };

	for (size_t i = 0; i < MG_ARRAY_LEN(v6_metadata); i++)
		if (memcmp(ip, v6_metadata[i], 16) == 0) {
			*why = "cloud metadata";
			return EG_ADDR_METADATA;
		}
	if (prefix_is(ip, zero, 16)) {
		*why = "unspecified (::)";
		return EG_ADDR_INTERNAL;
	}
	if (prefix_is(ip, zero, 15) && ip[15] == 1) {
		*why = "loopback";
		return EG_ADDR_INTERNAL;
	}
	/* Forms that carry an IPv4 address lead where that address leads. */
	if (prefix_is(ip, mapped, 12) || prefix_is(ip, nat64, 12))
		return classify_v4(ip + 12, why);
	if (ip[0] == 0x20 && ip[1] == 0x02)
		return classify_v4(ip + 2, why);
	if (prefix_is(ip, zero, 12)) {
		*why = "IPv4-compatible (::/96, deprecated)";
		return EG_ADDR_INTERNAL;
	}
	if (prefix_is(ip, nat64_local, 6)) {
		*why = "local-use NAT64 (64:ff9b:1::/48)";
		return EG_ADDR_INTERNAL;
	}
	if ((ip[0] & 0xfe) == 0xfc) {
		*why = "unique local (fc00::/7)";
		return EG_ADDR_INTERNAL;
	}
	if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) {
		*why = "link-local (fe80::/10)";
		return EG_ADDR_INTERNAL;
	}
	if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0xc0) {
		*why = "site-local (fec0::/10, deprecated)";
		return EG_ADDR_INTERNAL;
	}
	if (ip[0] == 0xff) {
		*why = "multicast";
		return EG_ADDR_INTERNAL;
	}
	if (prefix_is(ip, discard, 8)) {
		*why = "discard-only (100::/64)";
		return EG_ADDR_INTERNAL;
	}
	if (prefix_is(ip, doc, 4)) {
		*why = "documentation (2001:db8::/32)";
		return EG_ADDR_INTERNAL;
	}
	*why = "public";
	return EG_ADDR_PUBLIC;
}

enum eg_addr_class eg_addr_classify(int family, const unsigned char *ip, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	if (family == AF_INET)
		return classify_v4(ip, why);
	if (family == AF_INET6)
		return classify_v6(ip, why);
	*why = "not an IP address";
	return EG_ADDR_INTERNAL;
}
