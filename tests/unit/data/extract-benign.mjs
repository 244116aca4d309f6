// Writes benign-definitions.json: every tool, prompt, resource and
// resource template the official reference servers in tests/node_modules
// list, and their server instructions, as a client would read them from
// tools/list, prompts/list, resources/list, resources/templates/list.
//
//   node tests/unit/data/extract-benign.mjs > tests/unit/data/benign-definitions.json
//
// No server is run and nothing is fetched: server-everything's registration
// functions are called on an McpServer that has no transport, and the list
// handlers of that object are called directly.  server-filesystem and
// server-memory are command-line programs (importing them starts them), so
// their schema declarations and registerTool/registerResource configuration
// literals are cut from the package source and evaluated alone, with a
// no-op handler, on an McpServer of the same kind.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nm = path.resolve(here, "../../node_modules");
const req = createRequire(path.join(nm, "@modelcontextprotocol/server-everything/package.json"));
const imp = (spec) => import(pathToFileURL(req.resolve(spec)).href);
const { McpServer } = await imp("@modelcontextprotocol/sdk/server/mcp.js");
const { z } = await imp("zod");
const ev = (f) => pathToFileURL(path.join(nm, "@modelcontextprotocol/server-everything/dist", f)).href;

async function lists(server, name) {
	const h = server.server._requestHandlers;
	const extra = { signal: new AbortController().signal, requestId: 1, sendNotification: async () => {},
		sendRequest: async () => ({}) };
	const out = [];
	const call = async (method, key, kind) => {
		if (!h.has(method))
			return;
		const r = await h.get(method)({ jsonrpc: "2.0", id: 1, method, params: {} }, extra);
		for (const d of r[key])
			out.push({ server: name, kind, def: d });
	};
	await call("tools/list", "tools", "tool");
	await call("prompts/list", "prompts", "prompt");
	await call("resources/list", "resources", "resource");
	await call("resources/templates/list", "resourceTemplates", "resource-template");
	return out;
}

// ---- server-everything: its own registration code
const everything = new McpServer({ name: "everything", version: "2.0.0" },
	{ capabilities: { tools: {}, prompts: {}, resources: {}, logging: {} } });
everything.server.getClientCapabilities = () => ({ sampling: {}, roots: {}, elicitation: { form: {}, url: {} },
	tasks: { requests: { sampling: { createMessage: {} }, elicitation: { create: {} } } } });
(await import(ev("tools/index.js"))).registerTools(everything);
(await import(ev("tools/index.js"))).registerConditionalTools(everything);
(await import(ev("prompts/index.js"))).registerPrompts(everything);
const res = await import(ev("resources/index.js"));
res.registerResources(everything);
const corpus = await lists(everything, "everything");
corpus.push({ server: "everything", kind: "instructions", def: res.readInstructions() });

// ---- filesystem and memory: configuration literals cut from the source
function matchEnd(src, at) {          // at: an opening bracket; returns the index after its match
	const open = "([{", close = ")]}";
	const stack = [];
	for (let i = at; i < src.length; i++) {
		const c = src[i];
		if (c === '"' || c === "'" || c === "`") {
			for (i++; i < src.length && src[i] !== c; i++)
				if (src[i] === "\\")
					i++;
		} else if (c === "/" && src[i + 1] === "/") {
			while (i < src.length && src[i] !== "\n")
				i++;
		} else if (open.includes(c)) {
			stack.push(close[open.indexOf(c)]);
		} else if (close.includes(c)) {
			if (stack.pop() !== c)
				throw new Error("unbalanced at " + i);
			if (stack.length === 0)
				return i + 1;
		}
	}
	throw new Error("unterminated");
}

function fromSource(file, name) {
	const src = readFileSync(path.join(nm, file), "utf8");
	const server = new McpServer({ name, version: "0" }, { capabilities: { tools: {}, resources: {} } });
	const parts = [];
	for (const m of src.matchAll(/^const (\w+) = (z\.|")/gm)) {
		if (m[2] === '"') {
			const e = src.indexOf(";", m.index);
			parts.push(src.slice(m.index, e + 1));
		} else {
			const p = src.indexOf("(", m.index);
			let e = matchEnd(src, p);
			while (src[e] === "." || /\s/.test(src[e])) {   // chained calls
				const q = src.indexOf("(", e);
				e = matchEnd(src, q);
			}
			parts.push(src.slice(m.index, e) + ";");
		}
	}
	for (const m of src.matchAll(/server\.(registerTool|registerResource)\(/g)) {
		const p = m.index + m[0].length - 1;
		const end = matchEnd(src, p);
		const call = src.slice(p + 1, end - 1);
		const cfg = call.indexOf("{");
		const cfgEnd = matchEnd(call, cfg);
		parts.push(`server.${m[1]}(${call.slice(0, cfgEnd)}, async () => ({ content: [] }));`);
	}
	new Function("z", "server", parts.join("\n"))(z, server);
	return server;
}

corpus.push(...await lists(fromSource("@modelcontextprotocol/server-filesystem/dist/index.js", "filesystem"), "filesystem"));
corpus.push(...await lists(fromSource("@modelcontextprotocol/server-memory/dist/index.js", "memory"), "memory"));
process.stdout.write(JSON.stringify(corpus, null, 1) + "\n");
