// Writes benign-npm.json: what real MCP servers from npm say about
// themselves, as a client reads it over stdio (tools/list, prompts/list,
// resources/list and resources/templates/list, every page, and the
// initialize result's instructions).
//
//   node tests/unit/data/list-npm-servers.mjs [--report FILE] DIR... > tests/unit/data/benign-npm.json
//
// Each DIR is a folder with a package.json whose dependencies are the
// servers, installed in DIR/node_modules.  One server per folder keeps
// their dependencies apart; install scripts are off (they download
// browsers and prebuilt binaries, which cannot be fetched here):
//
//   for p in @playwright/mcp exa-mcp-server ...; do     # the keys of SERVERS
//     d=/work/corpus-npm/pkgs/$(echo "$p" | tr '@/' '_+'); mkdir -p "$d"
//     (cd "$d" && echo '{"private":true}' > package.json && npm install --ignore-scripts "$p")
//   done
//   tests/node_modules/.bin/node tests/unit/data/list-npm-servers.mjs /work/corpus-npm/pkgs/* \
//     > tests/unit/data/benign-npm.json
//
// (Node 22: some servers need it.)  Each server is started with this node
// on its package's bin, in an empty scratch folder, $TMPDIR/mcp-list/NAME
// (a fixed path: a server may name its folder in a description), which is
// also its HOME, with the dummy credentials, arguments and files of
// SERVERS below.  Nothing here has network beyond the package registries;
// most servers list their tools without calling their API.  A server that
// does not answer initialize within the timeout (LIST_TIMEOUT_MS, 30 s),
// or exits, is reported on stderr (and in --report FILE, with the tail of
// its stderr) and left out.  The items are {package, version, kind, def}
// (kind tool, prompt, resource, resource-template) and {package, version,
// kind: "instructions", text}, one a line, by package, each server's in
// the order it listed them.  Two runs give the same bytes.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const TIMEOUT_MS = Number(process.env.LIST_TIMEOUT_MS || 30000);
const DUMMY = "dummy-credential-for-listing-0000";

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:9
contexts:
- name: local
  context:
    cluster: local
    user: dummy
current-context: local
users:
- name: dummy
  user:
    token: ${DUMMY}
`;

// A Google OAuth client and a token for the servers that read them from files.
const OAUTH_KEYS = JSON.stringify({ installed: { client_id: "000-dummy.apps.googleusercontent.com",
	client_secret: DUMMY, redirect_uris: ["http://localhost"] } });
const OAUTH_TOKEN = JSON.stringify({ access_token: DUMMY, refresh_token: DUMMY, token_type: "Bearer",
	expiry_date: 4102444800000 });

// Tried and not listed (offline): @apify/actors-mcp-server and @stripe/mcp
// fetch their tool lists from their services; @modelcontextprotocol/server-redis,
// @bytebase/dbhub and @benborla29/mcp-server-mysql need a running database;
// @heroku/mcp-server 1.2.8 imports an SDK path the SDK no longer exports;
// @azure-devops/mcp, slack-mcp-server and @mako10k/mcp-shell-server need
// native or downloaded binaries that install scripts would fetch.
//
// How to start each server: bin (when the package has several), args,
// env, files written into the scratch folder first.  Credentials are
// placeholders; hosts point at the loopback.
const SERVERS = {
	"@playwright/mcp": { args: ["--headless", "--isolated"] },
	"@upstash/context7-mcp": { env: { CONTEXT7_API_KEY: DUMMY } },
	"firecrawl-mcp": { env: { FIRECRAWL_API_KEY: "fc-" + DUMMY } },
	"@notionhq/notion-mcp-server": { env: { NOTION_TOKEN: "ntn_" + DUMMY } },
	"@modelcontextprotocol/server-github": { env: { GITHUB_PERSONAL_ACCESS_TOKEN: "ghp_" + DUMMY } },
	"@modelcontextprotocol/server-slack": { env: { SLACK_BOT_TOKEN: "xoxb-" + DUMMY, SLACK_TEAM_ID: "T00000000" } },
	"@modelcontextprotocol/server-gitlab": { env: { GITLAB_PERSONAL_ACCESS_TOKEN: DUMMY,
		GITLAB_API_URL: "http://127.0.0.1:9/api/v4" } },
	"@modelcontextprotocol/server-google-maps": { env: { GOOGLE_MAPS_API_KEY: DUMMY } },
	"@modelcontextprotocol/server-puppeteer": { env: { PUPPETEER_SKIP_DOWNLOAD: "1" } },
	"@modelcontextprotocol/server-brave-search": { env: { BRAVE_API_KEY: DUMMY } },
	"@modelcontextprotocol/server-redis": { args: ["redis://127.0.0.1:9"] },
	"@modelcontextprotocol/server-postgres": { args: ["postgresql://127.0.0.1:9/db"] },
	"@modelcontextprotocol/server-aws-kb-retrieval": { env: { AWS_ACCESS_KEY_ID: DUMMY,
		AWS_SECRET_ACCESS_KEY: DUMMY, AWS_REGION: "us-east-1" } },
	"@modelcontextprotocol/server-everart": { env: { EVERART_API_KEY: DUMMY } },
	"@wonderwhy-er/desktop-commander": { env: { MCP_DXT: "1" } },
	"mcp-server-kubernetes": { env: { KUBECONFIG: "{scratch}/kubeconfig" }, files: { kubeconfig: KUBECONFIG } },
	// without docs: that feature fetches a GraphQL schema when tools are listed
	"@supabase/mcp-server-supabase": { args: ["--access-token", DUMMY,
		"--features=account,database,debugging,development,functions,branching,storage"] },
	"@heroku/mcp-server": { env: { HEROKU_API_KEY: DUMMY } },
	"@stripe/mcp": { args: ["--tools=all", "--api-key=sk_test_" + DUMMY] },
	"chrome-devtools-mcp": { args: ["--headless", "--isolated"] },
	"tavily-mcp": { env: { TAVILY_API_KEY: "tvly-" + DUMMY } },
	"exa-mcp-server": { env: { EXA_API_KEY: DUMMY } },
	"airtable-mcp-server": { env: { AIRTABLE_API_KEY: "pat" + DUMMY } },
	"mongodb-mcp-server": { env: { MDB_MCP_TELEMETRY: "disabled" } },
	"@elastic/mcp-server-elasticsearch": { env: { ES_URL: "http://127.0.0.1:9", ES_API_KEY: DUMMY } },
	"figma-developer-mcp": { args: ["--stdio"], env: { FIGMA_API_KEY: DUMMY } },
	"@executeautomation/playwright-mcp-server": {},
	"@sentry/mcp-server": { env: { SENTRY_ACCESS_TOKEN: DUMMY } },
	"@hubspot/mcp-server": { env: { PRIVATE_APP_ACCESS_TOKEN: DUMMY } },
	"@apify/actors-mcp-server": { env: { APIFY_TOKEN: DUMMY } },
	"@kimtaeyoon83/mcp-server-youtube-transcript": {},
	"@cyanheads/git-mcp-server": { env: { MCP_TRANSPORT_TYPE: "stdio", MCP_LOG_LEVEL: "error" } },
	"@browserbasehq/mcp-server-browserbase": { env: { BROWSERBASE_API_KEY: DUMMY, BROWSERBASE_PROJECT_ID: DUMMY,
		GEMINI_API_KEY: DUMMY } },
	"@gongrzhe/server-gmail-autoauth-mcp": { env: { GMAIL_OAUTH_PATH: "{scratch}/gcp-oauth.keys.json",
		GMAIL_CREDENTIALS_PATH: "{scratch}/credentials.json" }, files: { "gcp-oauth.keys.json": OAUTH_KEYS,
		"credentials.json": OAUTH_TOKEN } },
	"@circleci/mcp-server-circleci": { env: { CIRCLECI_TOKEN: DUMMY } },
	"@zereight/mcp-gitlab": { env: { GITLAB_PERSONAL_ACCESS_TOKEN: DUMMY, GITLAB_API_URL: "http://127.0.0.1:9/api/v4" } },
	"@launchdarkly/mcp-server": { args: ["start", "--api-key", "api-" + DUMMY] },
	"@winor30/mcp-server-datadog": { env: { DATADOG_API_KEY: DUMMY, DATADOG_APP_KEY: DUMMY } },
	"@cocal/google-calendar-mcp": { env: { GOOGLE_OAUTH_CREDENTIALS: "{scratch}/gcp-oauth.keys.json" },
		files: { "gcp-oauth.keys.json": OAUTH_KEYS } },
	"@perplexity-ai/mcp-server": { env: { PERPLEXITY_API_KEY: "pplx-" + DUMMY } },
	"@brave/brave-search-mcp-server": { env: { BRAVE_API_KEY: DUMMY } },
	"@bytebase/dbhub": { args: ["--transport", "stdio", "--dsn", "postgres://user:pass@127.0.0.1:9/db"] },
	"@shortcut/mcp": { env: { SHORTCUT_API_TOKEN: DUMMY } },
	"@dynatrace-oss/dynatrace-mcp-server": { env: { DT_ENVIRONMENT: "https://abc12345.apps.dynatrace.com",
		DT_PLATFORM_TOKEN: "dt0s16." + DUMMY } },
	"@agent-infra/mcp-server-filesystem": { args: ["--allowed-directories", "{scratch}"] },
};

const LISTS = [
	["tools/list", "tools", "tool", "tools"],
	["prompts/list", "prompts", "prompt", "prompts"],
	["resources/list", "resources", "resource", "resources"],
	["resources/templates/list", "resourceTemplates", "resource-template", "resources"],
];

function fill(v, scratch) {
	return v.replaceAll("{scratch}", scratch);
}

// One JSON-RPC session over the child's stdin/stdout.
function session(child) {
	let buf = "", next = 1, exited = null;
	const waiting = new Map();
	child.on("exit", (code, sig) => {
		exited = sig || code;
		for (const w of waiting.values())
			w(null);
		waiting.clear();
	});
	child.stdout.setEncoding("utf8");
	child.stdout.on("data", (chunk) => {
		buf += chunk;
		for (let nl; (nl = buf.indexOf("\n")) >= 0;) {
			const line = buf.slice(0, nl).trim();
			buf = buf.slice(nl + 1);
			let msg;
			try {
				msg = JSON.parse(line);
			} catch {
				continue;       // a log line on stdout
			}
			if (msg && msg.id !== undefined && waiting.has(msg.id) && msg.method === undefined) {
				waiting.get(msg.id)(msg);
				waiting.delete(msg.id);
			} else if (msg && msg.method && msg.id !== undefined) {
				// a server's own request (roots, sampling): refuse it
				child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id: msg.id,
					error: { code: -32601, message: "not supported by the lister" } }) + "\n");
			}
		}
	});
	return {
		request(method, params) {
			const id = next++;
			return new Promise((resolve, reject) => {
				if (exited !== null)
					return reject(new Error(`${method}: the server exited (${exited})`));
				const t = setTimeout(() => {
					waiting.delete(id);
					reject(new Error(`${method}: no answer in ${TIMEOUT_MS} ms`));
				}, TIMEOUT_MS);
				waiting.set(id, (m) => {
					clearTimeout(t);
					if (m)
						resolve(m);
					else
						reject(new Error(`${method}: the server exited (${exited})`));
				});
				child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
			});
		},
		notify(method, params) {
			child.stdin.write(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n");
		},
	};
}

async function listServer(dir, name) {
	const pkgDir = path.resolve(dir, "node_modules", name);
	const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
	const conf = SERVERS[name] || {};
	const bins = typeof pkg.bin === "string" ? { [name]: pkg.bin } : pkg.bin || {};
	const bin = conf.bin ? bins[conf.bin] : Object.values(bins)[0];
	if (!bin)
		throw new Error("no bin in package.json");
	// a fixed path: some servers name their folder in a description
	const scratch = path.join(os.tmpdir(), "mcp-list", name.replace(/[@/]/g, "_"));
	rmSync(scratch, { recursive: true, force: true });
	mkdirSync(scratch, { recursive: true });
	const env = { PATH: process.env.PATH, HOME: scratch, TMPDIR: scratch, NODE_ENV: "production",
		NO_UPDATE_NOTIFIER: "1", DO_NOT_TRACK: "1" };
	for (const [k, v] of Object.entries(conf.env || {}))
		env[k] = fill(v, scratch);
	const args = (conf.args || []).map((a) => fill(a, scratch));
	for (const [f, text] of Object.entries(conf.files || {}))
		writeFileSync(path.join(scratch, f), text);
	const child = spawn(process.execPath, [path.join(pkgDir, bin), ...args],
		{ cwd: scratch, env, stdio: ["pipe", "pipe", "pipe"], detached: true });
	let stderr = "";
	child.stderr.setEncoding("utf8");
	child.stderr.on("data", (c) => {
		if (stderr.length < 4000)
			stderr += c;
	});
	child.stdin.on("error", () => {});
	const gone = new Promise((resolve) => child.on("exit", resolve));
	const rpc = session(child);
	const items = [];
	const info = { package: name, version: pkg.version, counts: {} };
	try {
		const init = await rpc.request("initialize", { protocolVersion: "2025-06-18", capabilities: {},
			clientInfo: { name: "mcpguard-corpus", version: "1" } });
		if (init.error)
			throw new Error("initialize: " + init.error.message);
		const caps = init.result.capabilities || {};
		rpc.notify("notifications/initialized", {});
		info.protocolVersion = init.result.protocolVersion;
		info.serverInfo = init.result.serverInfo;
		if (typeof init.result.instructions === "string" && init.result.instructions.length)
			items.push({ package: name, version: pkg.version, kind: "instructions", text: init.result.instructions });
		for (const [method, key, kind, cap] of LISTS) {
			if (!caps[cap])
				continue;
			let cursor, pages = 0, n = 0;
			do {
				const r = await rpc.request(method, cursor ? { cursor } : {});
				if (r.error) {
					info.counts[kind] = "error: " + r.error.message;
					break;
				}
				for (const def of r.result[key] || []) {
					items.push({ package: name, version: pkg.version, kind, def });
					n++;
				}
				cursor = r.result.nextCursor;
			} while (cursor && ++pages < 100);
			if (typeof info.counts[kind] !== "string")
				info.counts[kind] = n;
		}
	} catch (e) {
		info.error = e.message;
		info.stderr = stderr.slice(-600);
	} finally {
		try {
			process.kill(-child.pid, "SIGTERM");
		} catch {}
		const t = setTimeout(() => {
			try {
				process.kill(-child.pid, "SIGKILL");
			} catch {}
		}, 3000);
		await gone;
		clearTimeout(t);
		rmSync(scratch, { recursive: true, force: true });
	}
	return { info, items: info.error ? [] : items };
}

const argv = process.argv.slice(2);
let report = null;
if (argv[0] === "--report") {
	report = argv[1];
	argv.splice(0, 2);
}
if (!argv.length) {
	console.error("usage: list-npm-servers.mjs [--report FILE] DIR...");
	process.exit(2);
}
const all = [], infos = [];
for (const dir of argv) {
	const deps = Object.keys(JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).dependencies || {});
	for (const name of deps) {
		let r;
		try {
			r = await listServer(dir, name);
		} catch (e) {
			r = { info: { package: name, error: e.message }, items: [] };
		}
		infos.push(r.info);
		all.push(...r.items);
		console.error(r.info.error ? `FAIL ${name}: ${r.info.error}` :
			`ok   ${name}@${r.info.version}: ${JSON.stringify(r.info.counts)}` +
			(r.items.some((i) => i.kind === "instructions") ? " +instructions" : ""));
	}
}
all.sort((a, b) => (a.package < b.package ? -1 : a.package > b.package ? 1 : 0));   // stable: listing order kept
process.stdout.write("[\n" + all.map((i) => JSON.stringify(i)).join(",\n") + "\n]\n");
if (report)
	writeFileSync(report, JSON.stringify(infos, null, 1) + "\n");
