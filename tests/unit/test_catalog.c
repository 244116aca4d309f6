/* Unit tests for src/catalog: every field, merging, errors with positions,
 * warnings, the YAML safety checks and the built-in catalog. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "catalog/catalog.h"

/* ---- helpers ---- */

static int load(struct catalog *c, const char *text, struct mg_err *err)
{
	memset(err, 0, sizeof(*err));
	return catalog_load_string(c, text, strlen(text), "catalog.yaml", err);
}

/* Load text that must fail; check the code and the exact message. */
static void expect_error(const char *text, int code, const char *msg)
{
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c, text, &err), code);
	assert_string_equal(err.msg, msg);
	assert_int_equal(c.n_servers, 0);
	catalog_release(&c);
}

/* Load text that must fail with a message starting with prefix. */
static void expect_error_prefix(const char *text, const char *prefix)
{
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c, text, &err), -EINVAL);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
		fail_msg("message '%s' does not start with '%s'", err.msg, prefix);
	assert_int_equal(c.n_servers, 0);
	catalog_release(&c);
}

/* Capture what the log writes to stderr while the catalog loads. */
struct capture {
	FILE *f;
	int saved;
};

static void capture_start(struct capture *cap)
{
	fflush(stderr);
	cap->f = tmpfile();
	assert_non_null(cap->f);
	cap->saved = dup(STDERR_FILENO);
	assert_true(cap->saved >= 0);
	assert_true(dup2(fileno(cap->f), STDERR_FILENO) >= 0);
}

static char *capture_end(struct capture *cap)
{
	char *out;
	long n;

	fflush(stderr);
	assert_true(dup2(cap->saved, STDERR_FILENO) >= 0);
	close(cap->saved);
	n = ftell(cap->f);
	assert_true(n >= 0);
	out = mg_calloc(1, (size_t)n + 1);
	rewind(cap->f);
	assert_int_equal(fread(out, 1, (size_t)n, cap->f), (size_t)n);
	fclose(cap->f);
	return out;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ---- every field ---- */

static const char full_yaml[] =
	"name: test\n"                                  /* 1 */
	"displayName: Test catalog\n"                   /* 2 */
	"version: 3\n"                                  /* 3 */
	"registry:\n"                                   /* 4 */
	"  full:\n"                                     /* 5 */
	"    name: full\n"
	"    type: server\n"
	"    title: Full server\n"
	"    description: Every field\n"
	"    image: mcp/full@sha256:abc\n"
	"    command: [node, server.js, --flag, '']\n"
	"    env:\n"
	"      - name: LOG_LEVEL\n"
	"        value: debug\n"
	"      - name: EMPTY\n"
	"      - {name: PORT, value: 8080}\n"
	"    secrets:\n"
	"      - name: full.api_key\n"
	"        env: API_KEY\n"
	"        example: sk-xxx\n"
	"        description: the key\n"
	"    longLived: yes\n"
	"    prefix: fs\n"
	"    tools:\n"
	"      - name: read_file\n"
	"        description: Read a file\n"
	"        arguments: [{name: path, type: string}]\n"
	"        annotations: {readOnlyHint: true}\n"
	"      - write_file\n"
	"    cwd: /srv/full\n"
	"    timeout: 90s\n"
	"    startupTimeout: 500ms\n"
	"    icon: https://example.com/icon.png\n"
	"    readme: https://example.com/readme.md\n"
	"    metadata: {category: test, tags: [a, b], pulls: 10}\n"
	"    dateAdded: '2025-01-01T00:00:00Z'\n"
	"    ref: ''\n"
	"    toolsUrl: https://example.com/tools.json\n"
	"    source: https://github.com/example/full\n"
	"    upstream: https://github.com/example/upstream\n"
	"    example: whatever\n";

static void test_every_field(void **state)
{
	const struct cat_server *s;
	struct catalog c;
	struct mg_err err;
	struct capture cap;
	char *log;

	catalog_init(&c);
	capture_start(&cap);
	assert_int_equal(load(&c, full_yaml, &err), 0);
	log = capture_end(&cap);
	assert_string_equal(log, ""); /* every key above is known and acted on or quiet */
	free(log);

	assert_int_equal(c.n_servers, 1);
	s = catalog_find(&c, "full");
	assert_non_null(s);
	assert_string_equal(s->name, "full");
	assert_string_equal(s->title, "Full server");
	assert_string_equal(s->description, "Every field");
	assert_string_equal(s->image, "mcp/full@sha256:abc");
	assert_string_equal(s->command[0], "node");
	assert_string_equal(s->command[1], "server.js");
	assert_string_equal(s->command[2], "--flag");
	assert_string_equal(s->command[3], "");
	assert_null(s->command[4]);
	assert_int_equal(s->n_env, 3);
	assert_string_equal(s->env[0].name, "LOG_LEVEL");
	assert_string_equal(s->env[0].value, "debug");
	assert_string_equal(s->env[1].name, "EMPTY");
	assert_string_equal(s->env[1].value, "");
	assert_string_equal(s->env[2].name, "PORT");
	assert_string_equal(s->env[2].value, "8080");
	assert_int_equal(s->n_secrets, 1);
	assert_string_equal(s->secrets[0].name, "full.api_key");
	assert_string_equal(s->secrets[0].env, "API_KEY");
	assert_int_equal(s->lifecycle, CAT_PER_SESSION);
	assert_true(s->lifecycle_set);
	assert_string_equal(s->prefix, "fs");
	assert_string_equal(s->tools[0], "read_file");
	assert_string_equal(s->tools[1], "write_file");
	assert_null(s->tools[2]);
	assert_string_equal(s->cwd, "/srv/full");
	assert_int_equal(s->timeout_ms, 90000);
	assert_int_equal(s->startup_timeout_ms, 500);
	assert_string_equal(s->source, "catalog.yaml:5");
	catalog_release(&c);
	assert_null(c.servers);
	assert_int_equal(c.n_servers, 0);
}

static void test_minimal_defaults(void **state)
{
	const struct cat_server *s;
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c, "registry:\n  a:\n    command: [prog]\n", &err), 0);
	s = catalog_find(&c, "a");
	assert_non_null(s);
	assert_null(s->title);
	assert_null(s->description);
	assert_null(s->image);
	assert_null(s->env);
	assert_int_equal(s->n_env, 0);
	assert_null(s->secrets);
	assert_null(s->tools);
	assert_null(s->prefix);
	assert_null(s->cwd);
	assert_int_equal(s->lifecycle, CAT_PER_SESSION);
	assert_false(s->lifecycle_set);
	assert_int_equal(s->timeout_ms, 0);
	assert_int_equal(s->startup_timeout_ms, 0);
	assert_string_equal(s->source, "catalog.yaml:2");
	assert_null(catalog_find(&c, "b"));
	assert_null(catalog_find(&c, NULL));
	catalog_release(&c);
}

static void test_env_mapping_form(void **state)
{
	const struct cat_server *s;
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  a:\n"
			      "    command: [prog]\n"
			      "    env:\n"
			      "      HOME: /tmp/a\n"
			      "      COUNT: 3\n"
			      "      NOTHING:\n",
			      &err),
			 0);
	s = catalog_find(&c, "a");
	assert_int_equal(s->n_env, 3);
	assert_string_equal(s->env[0].name, "HOME");
	assert_string_equal(s->env[0].value, "/tmp/a");
	assert_string_equal(s->env[1].name, "COUNT");
	assert_string_equal(s->env[1].value, "3");
	assert_string_equal(s->env[2].name, "NOTHING");
	assert_string_equal(s->env[2].value, "");
	catalog_release(&c);
}

static void test_tools_empty_means_all(void **state)
{
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c, "registry:\n  a:\n    command: [p]\n    tools: []\n", &err), 0);
	assert_null(catalog_find(&c, "a")->tools);
	catalog_release(&c);
}

static void test_null_values_are_absent(void **state)
{
	const struct cat_server *s;
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  a:\n"
			      "    command: [p]\n"
			      "    title:\n"
			      "    description: ~\n"
			      "    env: null\n"
			      "    tools:\n"
			      "    timeout: !!null ''\n",
			      &err),
			 0);
	s = catalog_find(&c, "a");
	assert_null(s->title);
	assert_null(s->description);
	assert_null(s->env);
	assert_null(s->tools);
	assert_int_equal(s->timeout_ms, 0);
	catalog_release(&c);
}

static void test_lifecycle(void **state)
{
	struct catalog c;
	struct mg_err err;
	struct capture cap;
	char *log;

	catalog_init(&c);
	capture_start(&cap);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  ll: {command: [p], longLived: true}\n"
			      "  notll: {command: [p], longLived: false}\n"
			      "  shared: {command: [p], lifecycle: shared}\n"
			      "  percall: {command: [p], lifecycle: per-call}\n"
			      "  session: {command: [p], lifecycle: per-session}\n"
			      "  both: {command: [p], longLived: on, lifecycle: per-call}\n"
			      "  both2: {lifecycle: shared, longLived: True, command: [p]}\n",
			      &err),
			 0);
	log = capture_end(&cap);
	assert_int_equal(count_of(log, "overrides 'longLived: true'"), 2);
	free(log);
	assert_int_equal(catalog_find(&c, "ll")->lifecycle, CAT_PER_SESSION);
	assert_true(catalog_find(&c, "ll")->lifecycle_set);
	/* longLived: false is Docker's default: the gateway chooses. */
	assert_false(catalog_find(&c, "notll")->lifecycle_set);
	assert_int_equal(catalog_find(&c, "shared")->lifecycle, CAT_SHARED);
	assert_true(catalog_find(&c, "shared")->lifecycle_set);
	assert_int_equal(catalog_find(&c, "percall")->lifecycle, CAT_PER_CALL);
	assert_int_equal(catalog_find(&c, "session")->lifecycle, CAT_PER_SESSION);
	assert_true(catalog_find(&c, "session")->lifecycle_set);
	assert_int_equal(catalog_find(&c, "both")->lifecycle, CAT_PER_CALL);
	assert_int_equal(catalog_find(&c, "both2")->lifecycle, CAT_SHARED);
	catalog_release(&c);

	assert_string_equal(cat_lifecycle_name(CAT_PER_SESSION), "per-session");
	assert_string_equal(cat_lifecycle_name(CAT_PER_CALL), "per-call");
	assert_string_equal(cat_lifecycle_name(CAT_SHARED), "shared");
	assert_string_equal(cat_lifecycle_name((enum cat_lifecycle)42), "unknown");
}

static void test_booleans_yaml11(void **state)
{
	static const char *const forms[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					     "on",   "On",   "ON",   "y",   "Y",   "!!bool 'true'" };
	char text[200];

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct catalog c;
		struct mg_err err;

		catalog_init(&c);
		snprintf(text, sizeof(text), "registry:\n  a:\n    command: [p]\n    longLived: %s\n",
			 forms[i]);
		assert_int_equal(load(&c, text, &err), 0);
		assert_true(catalog_find(&c, "a")->lifecycle_set);
		catalog_release(&c);
	}
	expect_error("registry:\n  a:\n    command: [p]\n    longLived: 'yes'\n", -EINVAL,
		     "catalog.yaml:4:16: server 'a': 'longLived' must be true or false");
	expect_error("registry:\n  a:\n    command: [p]\n    longLived: maybe\n", -EINVAL,
		     "catalog.yaml:4:16: server 'a': 'longLived' must be true or false");
}

static void test_durations(void **state)
{
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  a: {command: [p], timeout: 2m, startupTimeout: 30}\n"
			      "  b: {command: [p], timeout: 1h, startupTimeout: 0}\n",
			      &err),
			 0);
	assert_int_equal(catalog_find(&c, "a")->timeout_ms, 120000);
	assert_int_equal(catalog_find(&c, "a")->startup_timeout_ms, 30000);
	assert_int_equal(catalog_find(&c, "b")->timeout_ms, 3600000);
	assert_int_equal(catalog_find(&c, "b")->startup_timeout_ms, 0);
	catalog_release(&c);
	expect_error("registry:\n  a:\n    command: [p]\n    timeout: fast\n", -EINVAL,
		     "catalog.yaml:4:14: server 'a': 'timeout' must be a duration such as 60s, "
		     "500ms, 2m or 1h, not 'fast'");
	expect_error("registry:\n  a:\n    command: [p]\n    startupTimeout: [1]\n", -EINVAL,
		     "catalog.yaml:4:21: server 'a': 'startupTimeout' must be a duration such as "
		     "60s or 500ms, found a list");
}

/* ---- image, remote, no command ---- */

static void test_image_only_and_remote(void **state)
{
	const struct cat_server *s;
	struct catalog c;
	struct mg_err err;
	struct capture cap;
	char *log;

	catalog_init(&c);
	capture_start(&cap);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  img:\n"
			      "    image: mcp/time@sha256:1234\n"
			      "  rem:\n"
			      "    type: remote\n"
			      "    remote: {url: 'https://example.com/mcp', transport_type: http}\n"
			      "  poc:\n"
			      "    type: poci\n"
			      "    tools: [{name: run, container: {image: x, command: [a]}}]\n"
			      "  gitmcp:\n"
			      "    remote: {url: 'https://gitmcp.io/moby/moby'}\n"
			      "  oldsse: {sseEndpoint: 'http://localhost:8811/sse'}\n",
			      &err),
			 0);
	log = capture_end(&cap);
	assert_null(strstr(log, "server rem:"));        /* remote servers are read */
	assert_contains(log, "catalog.yaml:8: server poc: type 'poci' is not supported yet");
	free(log);
	s = catalog_find(&c, "img");
	assert_string_equal(s->image, "mcp/time@sha256:1234");
	assert_null(s->command);
	s = catalog_find(&c, "rem");
	assert_null(s->command);
	assert_null(s->image);
	assert_string_equal(s->remote_url, "https://example.com/mcp");
	assert_false(s->remote_sse);
	assert_true(catalog_find(&c, "oldsse")->remote_sse);
	assert_string_equal(catalog_find(&c, "oldsse")->remote_url, "http://localhost:8811/sse");
	assert_non_null(catalog_find(&c, "poc"));
	/* Docker calls these remote even without type: remote. */
	assert_null(catalog_find(&c, "gitmcp")->command);
	assert_null(catalog_find(&c, "oldsse")->command);
	assert_int_equal(c.n_servers, 5);
	catalog_release(&c);
}

static void test_remote_fields(void **state)
{
	const struct cat_server *s;
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  r:\n"
			      "    remote:\n"
			      "      url: https://mcp.example.com/mcp\n"
			      "      transport_type: sse\n"
			      "      headers:\n"
			      "        Authorization: Bearer ${TOKEN}\n"
			      "        X-Team: blue\n",
			      &err),
			 0);
	s = catalog_find(&c, "r");
	assert_true(s->remote_sse);
	assert_string_equal(s->remote_headers[0], "Authorization: Bearer ${TOKEN}");
	assert_string_equal(s->remote_headers[1], "X-Team: blue");
	assert_null(s->remote_headers[2]);
	catalog_release(&c);
	expect_error("registry:\n  r:\n    remote: {url: 'ftp://x'}\n", -EINVAL,
		     "catalog.yaml:3:19: server 'r': the remote url must start with https:// "
		     "(or http://)");
	expect_error("registry:\n  r:\n    remote: {url: 'https://x', transport_type: ws}\n",
		     -EINVAL, "catalog.yaml:3:48: server 'r': 'transport_type' must be sse, http, "
		     "streamable, streaming or streamable-http");
}

static void test_no_command(void **state)
{
	expect_error("registry:\n  x:\n    title: X\n", -EINVAL,
		     "catalog.yaml:2:3: server 'x' has no command: give 'command:' (a list: the "
		     "program, then its arguments) or 'image:'");
	expect_error("registry:\n  x:\n    command: []\n", -EINVAL,
		     "catalog.yaml:2:3: server 'x' has no command: give 'command:' (a list: the "
		     "program, then its arguments) or 'image:'");
	expect_error("registry:\n  x:\n    command: ['', a]\n", -EINVAL,
		     "catalog.yaml:3:15: server 'x': the first element of 'command' (the program) "
		     "is empty");
	expect_error("registry:\n  x:\n", -EINVAL,
		     "catalog.yaml:2:5: server 'x': expected a mapping of fields (command:, "
		     "image:, ...), found nothing");
}

/* ---- wrong types ---- */

static void test_type_errors(void **state)
{
	expect_error("# comment\n"
		     "registry:\n"
		     "  memory:\n"
		     "    title: Memory\n"
		     "    description: >-\n"
		     "      keeps things\n"
		     "    command: npx -y @modelcontextprotocol/server-memory\n",
		     -EINVAL,
		     "catalog.yaml:7:14: server 'memory': 'command' must be a list of strings "
		     "(program first), found a single value");
	expect_error("registry:\n  m:\n    command:\n      - npx\n      - [a]\n", -EINVAL,
		     "catalog.yaml:5:9: server 'm': 'command' must be a list of strings, found a "
		     "list in it");
	expect_error("registry:\n  m:\n    command: [p]\n    env: FOO=bar\n", -EINVAL,
		     "catalog.yaml:4:10: server 'm': 'env' must be a list of {name, value} or a "
		     "mapping NAME: value, found a single value");
	expect_error("registry:\n  m:\n    command: [p]\n    env:\n      - FOO=bar\n", -EINVAL,
		     "catalog.yaml:5:9: server 'm': each 'env' entry must be a mapping with 'name' "
		     "(a string) and 'value'");
	expect_error("registry:\n  m:\n    command: [p]\n    env: [{name: A, value: [1]}]\n",
		     -EINVAL,
		     "catalog.yaml:4:28: server 'm': the value of environment variable 'A' must be "
		     "a string, found a list");
	expect_error("registry:\n  m:\n    command: [p]\n    env: [{name: 'A=B', value: x}]\n",
		     -EINVAL,
		     "catalog.yaml:4:18: server 'm': environment variable name 'A=B' is empty or "
		     "contains '='");
	expect_error("registry:\n  m:\n    command: [p]\n    env: [{name: A}, {name: A}]\n",
		     -EINVAL, "catalog.yaml:4:29: server 'm': environment variable 'A' is set twice");
	expect_error("registry:\n  m:\n    command: [p]\n    secrets: {name: a, env: B}\n",
		     -EINVAL,
		     "catalog.yaml:4:14: server 'm': 'secrets' must be a list of {name, env}, found "
		     "a mapping");
	expect_error("registry:\n  m:\n    command: [p]\n    secrets:\n      - name: m.key\n",
		     -EINVAL,
		     "catalog.yaml:5:9: server 'm': a 'secrets' entry needs 'env' (the variable to "
		     "pass the secret in: a name without '=')");
	expect_error("registry:\n  m:\n    command: [p]\n    secrets: [{env: K}]\n", -EINVAL,
		     "catalog.yaml:4:15: server 'm': a 'secrets' entry needs 'name' (the secret, "
		     "e.g. github.personal_access_token)");
	expect_error("registry:\n  m:\n    command: [p]\n    secrets: [m.key]\n", -EINVAL,
		     "catalog.yaml:4:15: server 'm': each 'secrets' entry must be a mapping with "
		     "'name' and 'env', found a single value");
	expect_error("registry:\n  m:\n    command: [p]\n    tools: read_file\n", -EINVAL,
		     "catalog.yaml:4:12: server 'm': 'tools' must be a list of tool names or "
		     "{name: ...} objects, found a single value");
	expect_error("registry:\n  m:\n    command: [p]\n    tools: [{description: x}]\n",
		     -EINVAL,
		     "catalog.yaml:4:13: server 'm': each 'tools' entry must be a tool name or a "
		     "mapping with 'name'");
	expect_error("registry:\n  m:\n    image: [a, b]\n", -EINVAL,
		     "catalog.yaml:3:12: server 'm': 'image' must be a string, found a list");
	expect_error("registry:\n  m:\n    command: [p]\n    title: {a: b}\n", -EINVAL,
		     "catalog.yaml:4:12: server 'm': 'title' must be a string, found a mapping");
	expect_error("registry:\n  m:\n    command: [p]\n    cwd: [a]\n", -EINVAL,
		     "catalog.yaml:4:10: server 'm': 'cwd' must be a string, found a list");
	expect_error("registry:\n  m:\n    command: [p]\n    lifecycle: forever\n", -EINVAL,
		     "catalog.yaml:4:16: server 'm': 'lifecycle' must be per-session, per-call or "
		     "shared");
	expect_error("registry:\n  m:\n    command: [p]\n    type: local\n", -EINVAL,
		     "catalog.yaml:4:11: server 'm': 'type' must be server, remote or poci");
	expect_error_prefix("registry:\n  m:\n    command: [p]\n    prefix: a__b\n",
			    "catalog.yaml:4:13: server 'm': 'prefix' 'a__b' is not valid: use 1-64");
	expect_error("registry:\n  m:\n    command: [p]\n    prefix: [a]\n", -EINVAL,
		     "catalog.yaml:4:13: server 'm': 'prefix' must be a string, found a list");
}

static void test_structure_errors(void **state)
{
	expect_error("", -EINVAL,
		     "catalog.yaml:1:1: the catalog is empty: expected a mapping with 'registry:' "
		     "(server name -> server entry)");
	expect_error("- a\n- b\n", -EINVAL,
		     "catalog.yaml:1:1: expected a mapping with 'registry:' at the top level, found "
		     "a list");
	expect_error("name: x\nservers: []\n", -EINVAL,
		     "catalog.yaml:1:1: no 'registry:' key: a catalog is a mapping with 'registry:' "
		     "(server name -> server entry)");
	expect_error("registry: [a]\n", -EINVAL,
		     "catalog.yaml:1:11: 'registry' must be a mapping of server names to server "
		     "entries, found a list");
	expect_error("registry:\n  a: {command: [p]}\n  a: {command: [q]}\n", -EINVAL,
		     "catalog.yaml:3:3: key 'a' appears twice (first at line 2)");
	expect_error("registry:\n  a:\n    command: [p]\n    command: [q]\n", -EINVAL,
		     "catalog.yaml:4:5: server 'a': key 'command' appears twice (first at line 3)");
	expect_error("registry:\n  a: {command: [p]}\n---\nregistry: {}\n", -EINVAL,
		     "catalog.yaml:3:1: a catalog is one YAML document; found a second one");
	expect_error_prefix("registry:\n  a: {command: [p]\n", "catalog.yaml:3:1: YAML syntax error: ");
	expect_error_prefix("registry:\n  a:\n    command: [p]\n   bad: x\n",
			    "catalog.yaml:4:4: YAML syntax error: ");
	expect_error("registry:\n\ta: {command: [p]}\n", -EINVAL,
		     "catalog.yaml:2:1: YAML syntax error: found character that cannot start any "
		     "token (while scanning for the next token at line 2, column 1); YAML does not "
		     "allow tabs for indentation");
	expect_error("registry:\n  a: {command: [p]}\n  \xff: x\n", -EINVAL,
		     "catalog.yaml:3:3: invalid YAML text: invalid leading UTF-8 octet (0xff); a "
		     "catalog is UTF-8");
	expect_error_prefix("registry:\n  a: {command: [p]}\n\x01", "catalog.yaml:3:1: invalid "
			    "YAML text: control characters are not allowed");
}

static void test_empty_registry(void **state)
{
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c, "name: empty\nregistry:\n", &err), 0);
	assert_int_equal(load(&c, "registry: {}\n", &err), 0);
	assert_int_equal(c.n_servers, 0);
	catalog_release(&c);
}

/* ---- warnings ---- */

static void test_unknown_and_unsupported_keys_warn(void **state)
{
	struct catalog c;
	struct mg_err err;
	struct capture cap;
	char *log;

	catalog_init(&c);
	capture_start(&cap);
	assert_int_equal(load(&c,
			      "whatever: at the top level is fine\n"
			      "registry:\n"
			      "  gh:\n"
			      "    command: [p]\n"
			      "    volumes: ['/a:/b']\n"
			      "    allowHosts: [api.github.com:443]\n"
			      "    disableNetwork: true\n"
			      "    user: '1000'\n"
			      "    extraHosts: ['a:1.2.3.4']\n"
			      "    config: [{name: gh, type: object}]\n"
			      "    oauth: {providers: []}\n"
			      "    sseEndpoint: http://127.0.0.1:1/sse\n"
			      "    policy: {allowed: true}\n"
			      "    frobnicate: 3\n"
			      "    \"evil\\e[31m\": 1\n"
			      "    secrets: [{name: gh.t, env: T, hint: x}]\n",
			      &err),
			 0);
	log = capture_end(&cap);
	/* volumes, allowHosts and disableNetwork are read (the sandbox). */
	assert_null(strstr(log, "'volumes'"));
	assert_null(strstr(log, "'allowHosts'"));
	assert_null(strstr(log, "'disableNetwork'"));
	assert_contains(log, "catalog.yaml:8: server gh: key 'user' is not supported yet");
	assert_contains(log, "catalog.yaml:9: server gh: key 'extraHosts' is not supported yet");
	assert_contains(log, "catalog.yaml:10: server gh: key 'config' is not supported yet");
	assert_contains(log, "catalog.yaml:11: server gh: key 'oauth' is not supported yet");
	assert_contains(log, "catalog.yaml:13: server gh: key 'policy' is not supported yet");
	assert_contains(log, "catalog.yaml:14: server gh: key 'frobnicate' is unknown and is "
			     "ignored");
	/* Control bytes from the file never reach the terminal. */
	assert_contains(log, "catalog.yaml:15: server gh: key 'evil?[31m' is unknown");
	assert_null(strchr(log, '\x1b'));
	assert_contains(log, "catalog.yaml:16: server gh: key 'hint' in 'secrets' is unknown");
	assert_int_equal(count_of(log, "warning"), 8);
	free(log);
	assert_int_equal(c.n_servers, 1);
	catalog_release(&c);
}

static void test_sandbox_fields(void **state)
{
	struct catalog c;
	struct mg_err err;
	const struct cat_server *s;

	catalog_init(&c);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  gh:\n"
			      "    command: [p]\n"
			      "    volumes: ['/srv/data:/data:rw', '/srv/ro:/ro']\n"
			      "    allowHosts: [api.github.com:443/https, '*.example.com:443', "
			      "'10.0.0.5:8080/tcp']\n"
			      "    memory: 256m\n"
			      "    cpus: '0.5'\n"
			      "    pids: 64\n"
			      "    sandbox: false\n",
			      &err),
			 0);
	s = catalog_find(&c, "gh");
	assert_string_equal(s->volumes[0], "/srv/data:/data:rw");
	assert_string_equal(s->volumes[1], "/srv/ro:/ro");
	assert_string_equal(s->allow_hosts[0], "api.github.com:443");   /* Docker's /https cut */
	assert_string_equal(s->allow_hosts[1], "*.example.com:443");
	assert_string_equal(s->allow_hosts[2], "10.0.0.5:8080");
	assert_int_equal(s->memory_bytes, 256u << 20);
	assert_true(s->cpus > 0.49 && s->cpus < 0.51);
	assert_int_equal(s->pids, 64);
	assert_true(s->unsandboxed);
	assert_false(s->disable_network);
	catalog_release(&c);

	/* Each wrong value: a clear error at file:line. */
	static const struct { const char *yaml; const char *msg; } bad[] = {
		{ "    volumes: [data:/data]\n", "must be host:inside[:ro|rw]" },
		{ "    volumes: ['/a:relative']\n", "must be host:inside[:ro|rw]" },
		{ "    allowHosts: [api.github.com]\n", "needs a port" },
		{ "    memory: lots\n", "'memory' must be a size" },
		{ "    memory: 1m\n", "at least 16m" },
		{ "    cpus: none\n", "'cpus' must be a number" },
		{ "    pids: 2\n", "'pids' must be a number" },
		{ "    sandbox: maybe\n", "'sandbox' must be true or false" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[512];

		snprintf(yaml, sizeof(yaml), "registry:\n  gh:\n    command: [p]\n%s", bad[i].yaml);
		catalog_init(&c);
		assert_int_equal(load(&c, yaml, &err), -EINVAL);
		assert_contains(err.msg, bad[i].msg);
		assert_contains(err.msg, "catalog.yaml:4:");
		catalog_release(&c);
	}
}

static void test_template_warning(void **state)
{
	struct catalog c;
	struct mg_err err;
	struct capture cap;
	char *log;

	catalog_init(&c);
	capture_start(&cap);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  db:\n"
			      "    command: [p, '{{db.url}}']\n"
			      "    env: [{name: URL, value: '{{db.url}}'}]\n",
			      &err),
			 0);
	log = capture_end(&cap);
	assert_int_equal(count_of(log, "Docker template"), 1);
	assert_contains(log, "catalog.yaml:3: server db: 'command' uses a Docker template");
	free(log);
	assert_string_equal(catalog_find(&c, "db")->command[1], "{{db.url}}");
	catalog_release(&c);
}

/* ---- YAML safety ---- */

static void test_aliases_rejected(void **state)
{
	expect_error("registry:\n"
		     "  a: &base\n"
		     "    command: [p]\n"
		     "  b: *base\n",
		     -EINVAL,
		     "catalog.yaml:2:6: anchors (&base) are not allowed in a catalog; write the "
		     "value out");
	expect_error("registry:\n"
		     "  a:\n"
		     "    command: [&x p]\n",
		     -EINVAL,
		     "catalog.yaml:3:15: anchors (&x) are not allowed in a catalog; write the value "
		     "out");
	/* The classic billion laughs, cut short at the first anchor. */
	expect_error("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		     "registry: {}\n",
		     -EINVAL,
		     "catalog.yaml:1:4: anchors (&a) are not allowed in a catalog; write the value "
		     "out");
}

static void test_aliases_without_anchor_rejected(void **state)
{
	/* An alias to an undefined anchor is a libyaml error on load; the
	 * prescan refuses it first, whatever it points to. */
	expect_error("registry:\n  a: *nothing\n", -EINVAL,
		     "catalog.yaml:2:6: aliases (*name) are not allowed in a catalog; write the "
		     "value out");
}

static void test_tags(void **state)
{
	struct catalog c;
	struct mg_err err;

	expect_error("registry:\n  a:\n    command: !python/object [p]\n", -EINVAL,
		     "catalog.yaml:3:14: tag '!python/object' is not allowed in a catalog; only "
		     "YAML's standard tags (!!str, !!int, !!bool, ...) are");
	expect_error_prefix("registry: !!set {a}\n", "catalog.yaml:1:11: tag 'tag:yaml.org,2002:set'");
	catalog_init(&c);
	assert_int_equal(load(&c, "registry: !!map\n  a: {command: !!seq [!!str p, !!int 1]}\n",
			      &err),
			 0);
	assert_string_equal(catalog_find(&c, "a")->command[1], "1");
	catalog_release(&c);
}

static void test_nul_and_depth(void **state)
{
	struct catalog c;
	struct mg_err err;
	char deep[400];
	size_t n = 0;

	expect_error("registry:\n  a:\n    command: [\"p\\0q\"]\n", -EINVAL,
		     "catalog.yaml:3:15: strings must not contain NUL bytes");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "registry: {a: {command: [p]}}\nx: ");
	for (int i = 0; i < 70; i++)
		deep[n++] = '[';
	for (int i = 0; i < 70; i++)
		deep[n++] = ']';
	deep[n++] = '\n';
	deep[n] = '\0';
	catalog_init(&c);
	assert_int_equal(load(&c, deep, &err), -EINVAL);
	assert_string_equal(err.msg, "catalog.yaml:2:67: nesting deeper than 64 levels");
	catalog_release(&c);
}

static void test_node_cap(void **state)
{
	size_t items = 1000000, n = 0, cap = items * 2 + 64;
	char *text = mg_malloc(cap);
	struct catalog c;
	struct mg_err err;

	/* The top mapping, registry, {}, x, the list: 5 nodes, plus the items. */
	n += (size_t)snprintf(text, cap, "registry: {}\nx: [");
	for (size_t i = 0; i < items; i++) {
		text[n++] = '0';
		text[n++] = ',';
	}
	text[n - 1] = ']';
	catalog_init(&c);
	assert_int_equal(catalog_load_string(&c, text, n, "catalog.yaml", &err), -EINVAL);
	assert_string_equal(err.msg, "catalog.yaml:2:1999995: more than 1000000 YAML nodes");
	/* Five items fewer is exactly the cap. */
	text[n - 11] = ']';
	assert_int_equal(catalog_load_string(&c, text, n - 10, "catalog.yaml", &err), 0);
	catalog_release(&c);
	free(text);
}

/* ---- names ---- */

static void test_server_names(void **state)
{
	static const char *const bad[] = { "'bad name'", "a__b", "-x", "_x", ".x", "x_",
					   "'caf\xc3\xa9'", "'a/b'",
					   /* 65 characters */
					   ("a12345678901234567890123456789012345678901234567890123456789"
					    "01234") };
	static const char *const good[] = { "a", "A9", "github-official", "x.y_z-1", "a_b", "9",
					    /* 64 characters */
					    ("a1234567890123456789012345678901234567890123456789012345678"
					     "90123") };
	char text[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "registry:\n  %s:\n    command: [p]\n", bad[i]);
		expect_error_prefix(text, "catalog.yaml:2:3: server name '");
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct catalog c;
		struct mg_err err;

		catalog_init(&c);
		snprintf(text, sizeof(text), "registry:\n  %s:\n    command: [p]\n", good[i]);
		assert_int_equal(load(&c, text, &err), 0);
		assert_non_null(catalog_find(&c, good[i]));
		catalog_release(&c);
	}
	expect_error("registry:\n  a__b:\n    command: [p]\n", -EINVAL,
		     "catalog.yaml:2:3: server name 'a__b' is not valid: use 1-64 letters, digits, "
		     "'_', '.' or '-', starting with a letter or digit, without '__' or a trailing "
		     "'_' (tool names are joined to it with '__')");
	expect_error("registry:\n  [a]: {command: [p]}\n", -EINVAL,
		     "catalog.yaml:2:3: expected a key name, found a list");
}

/* ---- merging ---- */

static void test_replace_across_loads(void **state)
{
	static const char second[] = "registry:\n"
				     "  z: {command: [z2]}\n"
				     "  y: {command: [y2]}\n";
	const struct cat_server *s;
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  x: {command: [x1]}\n"
			      "  y: {command: [y1], title: Old, env: [{name: A, value: a}]}\n",
			      &err),
			 0);
	assert_int_equal(catalog_load_string(&c, second, strlen(second), "second.yaml", &err), 0);
	assert_int_equal(c.n_servers, 3);
	/* y keeps its place; its whole definition is the later one. */
	assert_string_equal(c.servers[0].name, "x");
	assert_string_equal(c.servers[1].name, "y");
	assert_string_equal(c.servers[2].name, "z");
	s = catalog_find(&c, "y");
	assert_string_equal(s->command[0], "y2");
	assert_null(s->title);
	assert_int_equal(s->n_env, 0);
	assert_string_equal(s->source, "second.yaml:3");
	assert_string_equal(catalog_find(&c, "x")->source, "catalog.yaml:2");
	catalog_release(&c);
}

static void test_long_origin(void **state)
{
	char origin[400];
	char want[420];
	struct catalog c;
	struct mg_err err;
	const char *text = "registry:\n  a: {command: [p]}\n";

	memset(origin, 'd', sizeof(origin) - 1);
	origin[sizeof(origin) - 1] = '\0';
	catalog_init(&c);
	assert_int_equal(catalog_load_string(&c, text, strlen(text), origin, &err), 0);
	snprintf(want, sizeof(want), "%s:2", origin);
	assert_string_equal(catalog_find(&c, "a")->source, want);
	catalog_release(&c);
}

static void test_failed_load_leaves_catalog_unchanged(void **state)
{
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(load(&c, "registry:\n  a: {command: [a1]}\n", &err), 0);
	/* b is valid and a would replace the first a, but c fails: nothing lands. */
	assert_int_equal(load(&c,
			      "registry:\n"
			      "  b: {command: [b2]}\n"
			      "  a: {command: [a2]}\n"
			      "  c: {command: c2}\n",
			      &err),
			 -EINVAL);
	assert_string_equal(err.msg, "catalog.yaml:4:16: server 'c': 'command' must be a list of "
				     "strings (program first), found a single value");
	assert_int_equal(c.n_servers, 1);
	assert_string_equal(catalog_find(&c, "a")->command[0], "a1");
	assert_null(catalog_find(&c, "b"));
	catalog_release(&c);
}

/* ---- files and the size cap ---- */

static char *write_temp(const char *text, size_t len)
{
	char *path = mg_strdup("/tmp/test_catalog_XXXXXX");
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	return path;
}

static void test_load_file(void **state)
{
	const char *text = "registry:\n  f:\n    command: [p]\n";
	char *path = write_temp(text, strlen(text));
	char want[128];
	struct catalog c;
	struct mg_err err;

	catalog_init(&c);
	assert_int_equal(catalog_load_file(&c, path, &err), 0);
	snprintf(want, sizeof(want), "%s:2", path);
	assert_string_equal(catalog_find(&c, "f")->source, want);
	catalog_release(&c);
	unlink(path);
	free(path);

	catalog_init(&c);
	assert_int_equal(catalog_load_file(&c, "/nonexistent/catalog.yaml", &err), -ENOENT);
	assert_string_equal(err.msg, "/nonexistent/catalog.yaml: cannot read the catalog: No such "
				     "file or directory");
	catalog_release(&c);
}

static void test_size_cap(void **state)
{
	size_t big = ((size_t)4 << 20) + 1;
	char *text = mg_malloc(big);
	char want[160];
	struct catalog c;
	struct mg_err err;
	char *path;

	/* A valid catalog padded with a comment past 4 MiB. */
	memset(text, ' ', big);
	memcpy(text, "registry: {}\n#", 14);
	path = write_temp(text, big);
	catalog_init(&c);
	assert_int_equal(catalog_load_file(&c, path, &err), -EFBIG);
	snprintf(want, sizeof(want), "%s: the catalog is larger than the 4 MiB limit", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(catalog_load_string(&c, text, big, "big.yaml", &err), -EFBIG);
	assert_string_equal(err.msg, "big.yaml: the catalog is larger than the 4 MiB limit");
	/* Exactly at the cap is fine. */
	assert_int_equal(catalog_load_string(&c, text, big - 1, "big.yaml", &err), 0);
	catalog_release(&c);
	unlink(path);
	free(path);
	free(text);
}

/* ---- the built-in catalog ---- */

static void test_builtin_default(void **state)
{
	const char *text = catalog_builtin_default();
	const struct cat_server *s;
	struct catalog c;
	struct mg_err err;
	struct capture cap;
	char *log;

	catalog_init(&c);
	capture_start(&cap);
	assert_int_equal(catalog_load_string(&c, text, strlen(text), "<built-in>", &err), 0);
	log = capture_end(&cap);
	assert_string_equal(log, "");
	free(log);
	assert_int_equal(c.n_servers, 2);
	s = catalog_find(&c, "everything");
	assert_non_null(s);
	assert_string_equal(s->title, "Everything");
	assert_non_null(s->description);
	assert_string_equal(s->command[0], "npx");
	assert_string_equal(s->command[1], "-y");
	assert_string_equal(s->command[2], "@modelcontextprotocol/server-everything@2026.8.31");
	assert_null(s->command[3]);
	assert_false(s->lifecycle_set);
	assert_null(s->image);
	s = catalog_find(&c, "memory");
	assert_non_null(s);
	assert_string_equal(s->title, "Memory");
	assert_non_null(s->description);
	assert_string_equal(s->command[0], "npx");
	assert_string_equal(s->command[2], "@modelcontextprotocol/server-memory@2026.8.31");
	assert_false(s->lifecycle_set);
	assert_string_equal(s->source, "<built-in>:12");
	catalog_release(&c);
}

static void test_error_null_err(void **state)
{
	struct catalog c;

	/* err may be NULL: the code still comes back. */
	catalog_init(&c);
	assert_int_equal(catalog_load_string(&c, "x", 1, NULL, NULL), -EINVAL);
	catalog_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_env_mapping_form),
		cmocka_unit_test(test_tools_empty_means_all),
		cmocka_unit_test(test_null_values_are_absent),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_booleans_yaml11),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_image_only_and_remote),
		cmocka_unit_test(test_remote_fields),
		cmocka_unit_test(test_no_command),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_structure_errors),
		cmocka_unit_test(test_empty_registry),
		cmocka_unit_test(test_unknown_and_unsupported_keys_warn),
		cmocka_unit_test(test_template_warning),
		cmocka_unit_test(test_sandbox_fields),
		cmocka_unit_test(test_aliases_rejected),
		cmocka_unit_test(test_aliases_without_anchor_rejected),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_nul_and_depth),
		cmocka_unit_test(test_node_cap),
		cmocka_unit_test(test_server_names),
		cmocka_unit_test(test_long_origin),
		cmocka_unit_test(test_replace_across_loads),
		cmocka_unit_test(test_failed_load_leaves_catalog_unchanged),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_builtin_default),
		cmocka_unit_test(test_error_null_err),
	};

	/* Warnings are part of what is tested; keep them on whatever the default. */
	mg_log_set_level(MG_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
