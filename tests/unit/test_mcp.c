/* Unit tests for src/mcp/proto.c: protocol revisions and negotiation, the
 * method route table and the MCP log level names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/mem.h"
#include "mcp/proto.h"

static const char *const known[] = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" };

static void test_versions_known(void **state)
{
	for (size_t i = 0; i < MG_ARRAY_LEN(known); i++)
		assert_true(mcp_legacy_version_known(known[i]));
	assert_true(mcp_legacy_version_known(MCP_LATEST_LEGACY));
	assert_false(mcp_legacy_version_known(NULL));
	assert_false(mcp_legacy_version_known(""));
	assert_false(mcp_legacy_version_known("2024-10-07"));
	assert_false(mcp_legacy_version_known("2099-01-01"));
	assert_false(mcp_legacy_version_known("2025-06-18 "));
	assert_false(mcp_legacy_version_known(" 2025-06-18"));
	assert_false(mcp_legacy_version_known("2025-06-1"));
	assert_false(mcp_legacy_version_known("2025-06-180"));
	assert_false(mcp_legacy_version_known("latest"));
}

static void test_negotiate(void **state)
{
	/* A known revision is answered with itself (same storage, static). */
	for (size_t i = 0; i < MG_ARRAY_LEN(known); i++) {
		char copy[16];
		const char *v;

		memcpy(copy, known[i], strlen(known[i]) + 1);
		v = mcp_negotiate_legacy(copy);
		assert_string_equal(v, known[i]);
		assert_ptr_not_equal(v, copy);
	}
	/* Anything else gets the newest. */
	assert_string_equal(mcp_negotiate_legacy(NULL), MCP_LATEST_LEGACY);
	assert_string_equal(mcp_negotiate_legacy(""), MCP_LATEST_LEGACY);
	assert_string_equal(mcp_negotiate_legacy("2099-12-31"), MCP_LATEST_LEGACY);
	assert_string_equal(mcp_negotiate_legacy("2024-01-01"), MCP_LATEST_LEGACY);
	assert_string_equal(mcp_negotiate_legacy("garbage"), MCP_LATEST_LEGACY);
	/* The newest is itself a known revision. */
	assert_true(mcp_legacy_version_known(mcp_negotiate_legacy("nope")));
	assert_string_equal(MCP_LATEST_LEGACY, "2025-11-25");
}

static void test_routes(void **state)
{
	static const struct {
		const char *method;
		enum mcp_route route;
	} cases[] = {
		{ "initialize", MCP_ROUTE_LOCAL },
		{ "ping", MCP_ROUTE_LOCAL },
		{ "logging/setLevel", MCP_ROUTE_LOCAL },
		{ "tools/list", MCP_ROUTE_LIST },
		{ "prompts/list", MCP_ROUTE_LIST },
		{ "resources/list", MCP_ROUTE_LIST },
		{ "resources/templates/list", MCP_ROUTE_LIST },
		{ "tools/call", MCP_ROUTE_TOOL },
		{ "prompts/get", MCP_ROUTE_PROMPT },
		{ "resources/read", MCP_ROUTE_URI },
		{ "resources/subscribe", MCP_ROUTE_URI },
		{ "resources/unsubscribe", MCP_ROUTE_URI },
		{ "completion/complete", MCP_ROUTE_COMPLETION },
		/* Unknown, near misses, notifications and server-to-client methods. */
		{ "", MCP_ROUTE_UNKNOWN },
		{ "tools", MCP_ROUTE_UNKNOWN },
		{ "tools/", MCP_ROUTE_UNKNOWN },
		{ "tools/list/", MCP_ROUTE_UNKNOWN },
		{ "Tools/List", MCP_ROUTE_UNKNOWN },
		{ "tools/call ", MCP_ROUTE_UNKNOWN },
		{ "tools/listx", MCP_ROUTE_UNKNOWN },
		{ "resources/templates", MCP_ROUTE_UNKNOWN },
		{ "notifications/initialized", MCP_ROUTE_UNKNOWN },
		{ "notifications/cancelled", MCP_ROUTE_UNKNOWN },
		{ "sampling/createMessage", MCP_ROUTE_UNKNOWN },
		{ "roots/list", MCP_ROUTE_UNKNOWN },
		{ "elicitation/create", MCP_ROUTE_UNKNOWN },
		{ "rpc.discover", MCP_ROUTE_UNKNOWN },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++)
		if (mcp_route_of(cases[i].method) != cases[i].route)
			fail_msg("route of '%s': %d, expected %d", cases[i].method,
				 (int)mcp_route_of(cases[i].method), (int)cases[i].route);
	assert_int_equal(mcp_route_of(NULL), MCP_ROUTE_UNKNOWN);
	/* Unknown is zero, so a zeroed struct means "no route". */
	assert_int_equal(MCP_ROUTE_UNKNOWN, 0);
}

static void test_log_levels(void **state)
{
	static const char *const names[] = { "debug", "info", "notice", "warning",
					     "error", "critical", "alert", "emergency" };

	/* RFC 5424 order: debug is 0, emergency 7, strictly increasing. */
	for (int i = 0; i < (int)MG_ARRAY_LEN(names); i++)
		assert_int_equal(mcp_log_level(names[i]), i);
	assert_int_equal(mcp_log_level(NULL), -1);
	assert_int_equal(mcp_log_level(""), -1);
	assert_int_equal(mcp_log_level("warn"), -1);
	assert_int_equal(mcp_log_level("WARNING"), -1);
	assert_int_equal(mcp_log_level("Info"), -1);
	assert_int_equal(mcp_log_level("trace"), -1);
	assert_int_equal(mcp_log_level("fatal"), -1);
	assert_int_equal(mcp_log_level("debug "), -1);
	assert_int_equal(mcp_log_level("emergencyy"), -1);
	assert_true(mcp_log_level("error") > mcp_log_level("warning"));
	assert_true(mcp_log_level("warning") > mcp_log_level("notice"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions_known),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_log_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
