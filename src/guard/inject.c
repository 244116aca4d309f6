/* guard/inject: instructions aimed at the model in results (see inject.h).
 *
 * How a message is scored.  Every finding has a class and a weight; the
 * score is the sum, over classes, of the heaviest finding of each class,
 * plus 4 for each distinct (instruction class, payload class) pair found
 * together, at most 8.  Repeating one kind of phrase adds nothing.
 *
 *   class       weight  finding
 *   invisible   10      unicode-tag (the decoded text is the detail), zero-width run (3 or more in
 *                       a row), bidi-override, variation-selectors (8 or more in a row)
 *               5       zero-width scattered (16 or more), bidi-control without right-to-left text
 *               1 - 3   a lone zero-width character, bidi mark, format character, short selector run
 *   control     10      ansi-hidden (SGR conceal, same foreground and background)
 *               6 / 5   ansi-escape (cursor moves, erasing, OSC) / backspace
 *               2       ansi-color, other control characters, a lone carriage return
 *   evasion     10      obfuscated-phrase: a phrase below written with invisible characters,
 *                       look-alike or styled letters inside it
 *   hidden      10      hidden-instruction: a phrase below inside Unicode tag characters
 *   marker      6 / 5 / 3  chat-template-token, result-breakout (</tool_result>) / hidden-marker
 *                       (<IMPORTANT>, <system>) / system-tag ([SYSTEM], "system note:")
 *   role        3 / 2   role-tag: Human: / Assistant: at a line start / System: (never paired:
 *                       transcripts are full of both)
 *   override    6 / 4 / 3  "ignore all previous instructions", "your new task is", "new
 *                       instructions:" / "from now on you will" / "you are now a", "ignore the above"
 *   address     3 / 4   model-address: "note to the AI", "if you are an AI" / "to any AI reading this"
 *   conceal     5 / 3   "do not tell the user", "the user must not know" / "secretly",
 *                       "without informing the user"
 *   toolcall    3       tool-call-request: "call the send_email tool with", "use read_file to"
 *   exfil       6       data-to-destination: an imperative "send/include/post ..." of the
 *                       conversation, a sensitive file or the user's data to an address or URL;
 *                       data-into-parameter: of a sensitive file or the context into a parameter
 *                       (CyberArk's ATPA); 4: a credential to an address; prompt-leak ("print your
 *                       system prompt")
 *   url         5 - 8   exfil-url: a markdown image or <img> to a host the request did not name,
 *                       whose URL carries data (base64 or hex that decodes to text, percent-
 *                       encoded prose, a placeholder for the model to fill in, words like
 *                       conversation or password); +2 when the text tells the model to show or
 *                       fill it; exfil-link: the same in a link (a click away), half as heavy
 *   dest        3       collection-host: webhook.site, requestbin, ngrok, interact.sh ...
 *   quoted      1       quoted-phrase: a phrase above that is quoted, in a code block or span,
 *                       after "for example" / "attackers" / "such as", or in a text that
 *                       discusses prompt injection (then every instruction phrase is a mention)
 *
 * Where a phrase stands (instruction and payload phrases): +2 at a line
 * start; +3 inside an HTML comment, a hidden-styled element or a hidden
 * marker's block; -2 in the middle of a long text (over 4,000 bytes); at
 * most 3 in a text that reads as source code.  Pairs are found within 600
 * folded bytes, or anywhere in a text under 1,500 bytes.
 *
 * Verdict: suspicious from 5, malicious from 10.  One phrase is at most
 * suspicious; invisible text, a hidden instruction, an obfuscated phrase,
 * or an instruction paired with a payload is malicious. */
#include "guard/inject.h"

#include <errno.h>
#include <hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "base/str.h"
#include "guard/defscan_text.h"

/* ---- the phrase patterns ------------------------------------------------
 *
 * They run on the folded text (defscan_text.h): lower case, one space or
 * one newline between words, typographic quotes made ASCII, `*` and
 * backquotes dropped.  The phrasing follows the public research on
 * indirect prompt injection (Greshake et al., Invariant Labs, CyberArk,
 * Embrace the Red, Trail of Bits, Simon Willison's write-ups); the
 * expressions are this project's own. */

enum atom {
	/* findings */
	A_TOKEN, A_BREAKOUT, A_PSEUDO, A_BRACKET, A_ROLE, A_OVERRIDE, A_ADDRESS, A_CONCEAL,
	A_TOOLCALL, A_LEAK, A_DROP,
	/* parts, put together in C */
	A_FLOW, A_DEST, A_CONTEXT, A_SECRET, A_SENS, A_SINK, A_RENDER, A_REPLACE, A_MENTION,
	A_DOCCUE, A_NEG,
	A_N
};

/* Where a match must stand, checked in C on the folded text (the patterns
 * have no anchors, so that the same database also runs on raw bytes). */
#define AT_LINE 1u              /* starts a line */
#define AT_CLAUSE 2u            /* starts a line or follows > . ! or ? */
#define AT_EOL 4u               /* ends a line */

struct rule {
	enum atom atom;
	int weight;
	unsigned at;
	const char *expr;
};

#define QUAL "(?:all\\s|any\\s|the\\s|your\\s|my\\s|of\\s|every\\s|these\\s|those\\s|of\\sthe\\s|of\\syour\\s){0,2}"
/* The model by a name only a model has; and by a word people are called
 * too (the assistant manager, the agent at the desk), which counts only
 * when nothing follows it or it is the one reading. */
#define AI_NAME "(?:ai|llm|llms|language\\smodels?|large\\slanguage\\smodels?|claude|gpt|chatgpt|copilot|gemini|" \
	"ai\\s(?:assistant|agent|model|system|bot)s?)"
#define AI_WORD "(?:assistants?|models?|agents?|bots?|chatbots?)"
#define AI_END "(?:\\s?[:,.!;]|\\s(?:reading|processing|that|who|which)\\b)"

static const struct rule g_rules[] = {
	/* ---- markers ---- */
	{ A_TOKEN, 6, 0,
	  "<\\|\\s?(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|eom_id|start_header_id|"
	  "end_header_id|begin_of_text|end_of_text|tool_call|python_tag)\\s?\\|>|\\[/?inst\\]|<</?sys>>|"
	  "<(?:start|end)_of_turn>|\\[(?:system|assistant)\\]\\(#[a-z_-]+\\)" },
	{ A_TOKEN, 4, AT_LINE | AT_EOL,
	  "#{2,4}\\s?(?:system|instruction|instructions|assistant|human|user|response)\\s?:?" },
	{ A_BREAKOUT, 6, 0,
	  "</\\s?(?:tool_result|tool_results|function_results|function_result|tool_output|tool_response|"
	  "tool_call_result|search_results|untrusted[_-][a-z_-]{1,30}|user_query|document_content)\\s?>|"
	  "<\\s?/?\\s?(?:function_calls|tool_use|tool_call)\\s?>|\\bend\\sof\\s(?:tool|function)\\s(?:result|output)\\b" },
	{ A_PSEUDO, 5, 0,
	  "<\\s?/?\\s?(?:important|system|system[_-](?:prompt|message|reminder|instructions?|note|override)|"
	  "ai[_-](?:only|instructions?)|assistant[_-](?:only|instructions?)|llm[_-]only|model[_-]instructions?|"
	  "note[_-]to[_-](?:ai|assistant|model|llm)|do[_-]not[_-]show)(?:\\s[a-z_-]+=[^>\\n]*)?\\s?>" },
	/* elements an XML document may well have */
	{ A_PSEUDO, 3, 0,
	  "<\\s?/?\\s?(?:instructions?|admin|secret|hidden|critical|mandatory)\\s?>" },
	{ A_BRACKET, 3, 0,
	  "\\[\\s?(?:system|important|admin|instructions?|system[_\\s](?:prompt|message|note)|hidden|"
	  "ai[_\\s]only)\\s?\\]|\\{\\{\\s?(?:system|important|instructions?)\\s?\\}\\}|"
	  "\\b(?:system|admin|administrator|developer|security)\\s(?:note|notice|message|alert|directive|"
	  "instructions?|override)\\s?:" },
	{ A_ROLE, 2, AT_LINE, "(?:human|assistant)\\s?:" },
	{ A_ROLE, 1, AT_LINE, "system\\s?:\\s" },

	/* ---- overriding what the model was told ---- */
	{ A_OVERRIDE, 6, 0,
	  "\\b(?:ignore|disregard|forget)\\s" QUAL "(?:previous|prior|earlier|above|preceding|original|initial|"
	  "old|former|existing|system|safety|other)\\s(?:instructions?|prompts?|rules|guidelines|directives?|"
	  "commands|context|messages|conversation|guardrails?|restrictions|constraints|programming|tasks?|orders)\\b" },
	{ A_OVERRIDE, 6, 0,
	  "\\b(?:override|bypass|discard|abandon|overwrite)\\s" QUAL "(?:previous|prior|earlier|above|original|"
	  "initial|system|safety)\\s(?:instructions?|prompts?|guidelines|directives?|guardrails?|programming)\\b" },
	{ A_OVERRIDE, 6, 0,
	  "\\b(?:new|updated|revised|real|actual|true)\\s(?:system\\s)?instructions?\\s?:|\\bnew\\ssystem\\sprompt\\b|"
	  "\\byour\\s(?:new|real|actual|true|primary|only)\\s(?:task|goal|instructions?|objective|purpose|role|"
	  "job|mission)\\s(?:is|are|now)\\b|\\b(?:system|admin|administrator|developer|emergency|root)\\s"
	  "(?:override|directive)\\b|\\bdo\\snot\\s(?:follow|obey|listen\\sto)\\s(?:the\\s)?(?:user|previous|"
	  "system|original|earlier)\\b" },
	{ A_OVERRIDE, 4, 0,
	  "\\b(?:from\\snow\\son|starting\\snow|henceforth),?\\s(?:you|the\\sassistant|the\\smodel|the\\sai)\\s"
	  "(?:will|must|shall|should|are|have\\sto|need\\sto|can\\sonly)\\b|"
	  "\\b(?:developer|god|jailbreak|dan|unrestricted)\\smode\\s(?:is\\s)?(?:enabled|activated|on)\\b" },
	{ A_OVERRIDE, 5, 0,
	  "\\b(?:whatever|no\\smatter\\swhat|even\\sif|regardless\\sof\\swhat)\\s(?:the\\s)?(?:user|human)\\s"
	  "(?:asks?|says?|wants?|requests?|tells\\syou)\\b" },
	{ A_OVERRIDE, 3, 0,
	  "\\byou\\sare\\sno\\slonger\\s(?:a|an|bound|restricted|an\\sai)\\b|\\byou\\sare\\snow\\s(?:dan|free|"
	  "unrestricted|jailbroken|in\\s(?:developer|god|admin|debug)\\smode|acting\\sas|going\\sto\\sact|"
	  "my|an?\\s(?:assistant|ai|agent|bot|model|helpful|different|new|evil|hacker|unfiltered))\\b|"
	  "\\b(?:ignore|disregard|forget)\\s(?:all\\s|everything\\s|anything\\s)?(?:of\\s)?(?:the\\s)?"
	  "(?:above|said\\sbefore|you\\swere\\stold)(?:\\s?[.,!;:]|\\sand\\b|\\s(?:instructions?|directions?|"
	  "prompts?|text|rules)\\b)" },

	/* ---- addressing the model ---- */
	{ A_ADDRESS, 3, 0,
	  "\\b(?:note|message|instructions?|reminder|directive|memo|attention|warning|important)\\s(?:to|for)\\s"
	  "(?:the\\s|any\\s|all\\s)?" AI_NAME "\\b|\\bif\\syou\\sare\\san?\\s(?:ai|llm|language\\smodel|"
	  "ai\\s(?:assistant|agent|model)|chatbot|large\\slanguage\\smodel)\\b|\\b(?:attention|hey|dear|hello)\\s"
	  "(?:ai|assistant|claude|llm|chatgpt|gpt|gemini|copilot|ai\\sassistant|ai\\sagent)s?\\b|"
	  "\\b(?:ai|llm|assistant|model|agent)\\s(?:instructions?|only|note)\\s?:" },
	{ A_ADDRESS, 3, AT_CLAUSE,
	  "\\b(?:ai\\s(?:assistants?|agents?|models?|systems?|bots?)|llms?|language\\smodels?)\\s?:" },
	{ A_ADDRESS, 3, 0,
	  "\\bthe\\s(?:assistant|ai|model|agent|llm|ai\\sassistant|ai\\sagent)\\s(?:must|should|needs\\sto|has\\sto|"
	  "is\\srequired\\sto|will\\snow|is\\sinstructed\\sto)\\b" },
	/* "note for the assistant:" is said to people too */
	{ A_ADDRESS, 2, 0,
	  "\\b(?:note|message|instructions?|reminder|directive|memo|attention|warning|important)\\s(?:to|for)\\s"
	  "(?:the\\s|any\\s|all\\s)?" AI_WORD AI_END },
	{ A_ADDRESS, 4, 0,
	  "\\bto\\s(?:the|any|all|every)\\s(?:" AI_NAME "|" AI_WORD ")\\s(?:reading|processing|summari[sz]ing|"
	  "analy[sz]ing|viewing|browsing|that\\sreads|who\\sreads)\\b|\\b(?:" AI_NAME "|" AI_WORD ")\\s(?:reading|"
	  "processing|visiting|summari[sz]ing|"
	  "parsing|crawling|browsing)\\s(?:this|these)\\b" },

	/* ---- concealment from the user ---- */
	{ A_CONCEAL, 5, 0,
	  "\\b(?:do\\snot|don't|dont|never|must\\snot)\\s(?:tell|inform|mention|reveal|disclose|show|alert|"
	  "notify)\\s(?:this\\s|it\\s|anything\\s|them\\s)?(?:to\\s)?(?:the\\s)?(?:user|users|human)\\b|"
	  "\\b(?:the\\s)?(?:user|human)\\s(?:must|should|shall|will)\\s(?:not|never)\\s(?:know|see|notice|"
	  "find\\sout|be\\s(?:told|informed|aware))\\b|\\b(?:do\\snot|don't|never)\\s(?:mention|reveal|include|"
	  "show|display|repeat)\\s(?:this|these|that|it)\\s(?:instructions?\\s|note\\s|message\\s|step\\s|"
	  "part\\s|text\\s)?(?:in|to)\\s(?:your|the)\\s(?:response|reply|answer|output|summary)\\b" },
	{ A_CONCEAL, 3, 0,
	  "\\b(?:secretly|covertly|surreptitiously|stealthily)\\b|\\bwithout\\s(?:telling|informing|"
	  "notifying|alerting)\\s(?:the\\s)?(?:user|human)\\b|\\bkeep\\s(?:this|it|these)\\s(?:instructions?\\s)?"
	  "(?:secret|hidden|confidential|between\\sus)\\b|\\b(?:respond|act|behave|continue)\\s(?:normally|"
	  "as\\sif\\snothing)\\b" },

	/* ---- asking for a tool call ---- */
	{ A_TOOLCALL, 2, 0,
	  "\\b(?:call|invoke|use|run|execute|trigger)\\s(?:the\\s)?[a-z][a-z0-9]*(?:[_.][a-z0-9]+)+\\s"
	  "(?:tool\\s|function\\s)?(?:with|to|and|passing|on|now)\\b|"
	  "\\b(?:call|invoke|use|run|execute|trigger)\\s(?:the\\s)?['\"]?[a-z][a-z0-9_.-]{1,40}['\"]?\\s"
	  "(?:tool|function|mcp\\stool)\\s(?:with|to|and|passing|on|now|immediately|first|again)\\b|"
	  "\\b(?:call|invoke|execute)\\s(?:the\\s)?(?:tool|function)\\s['\"]?[a-z][a-z0-9_.-]{1,40}|"
	  "\\b(?:call|invoke|execute)\\s(?:the\\s)?[a-z][a-z0-9]*_[a-z0-9_]+\\b" },
	/* ---- asking for what the model was told ---- */
	{ A_LEAK, 4, 0,
	  "\\b(?:reveals?|prints?|outputs?|repeats?|show|shows|display|displays|dumps?|leaks?|share|shares|write\\sout|"
	  "tell\\sme)\\s(?:me\\s)?"
	  "(?:all\\s)?(?:of\\s)?(?:your|the)\\s(?:full\\s|entire\\s|complete\\s|original\\s|hidden\\s|initial\\s)?"
	  "(?:system\\sprompt|initial\\sprompt|hidden\\sprompt|hidden\\sinstructions|instructions\\sabove)\\b|"
	  "\\b(?:reveal|print|output|repeat|dump)\\s(?:me\\s)?your\\s(?:instructions|prompt|rules)\\b" },
	/* ---- hosts that exist to collect requests ---- */
	{ A_DROP, 3, 0,
	  "\\b(?:webhook\\.site|requestbin\\.(?:com|net)|pipedream\\.net|hookbin\\.com|requestcatcher\\.com|"
	  "beeceptor\\.com|ngrok(?:-free)?\\.(?:io|app|dev)|trycloudflare\\.com|burpcollaborator\\.net|"
	  "oastify\\.com|interact\\.sh|oast\\.(?:fun|live|me|online|pro|site)|canarytokens\\.(?:com|org)|"
	  "serveo\\.net|localtunnel\\.me|loca\\.lt)\\b" },

	/* ---- parts ---- */
	{ A_FLOW, 0, 0,
	  "(?:(?:please|now|then|also|first|next|finally|immediately|and|just|quickly|silently|quietly|"
	  "you\\smust|you\\sshould|you\\swill|you\\sneed\\sto|make\\ssure\\sto|be\\ssure\\sto|remember\\sto|"
	  "always|kindly),?\\s){0,3}(?:send|email|e-mail|forward|post|upload|transmit|exfiltrate|leak|share|"
	  "submit|append|attach|include|embed|pass|provide|supply|give|copy|paste|encode|put|add)\\b" },
	/* destinations: the weight says the kind (1 an address or a number, 2 a URL) */
	{ A_DEST, 1, 0, "\\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\\.[a-z0-9-]+)*\\.[a-z]{2,12}\\b|\\+\\d{8,15}\\b" },
	{ A_DEST, 2, 0, "\\bhttps?://" },
	{ A_CONTEXT, 0, 0,
	  "\\b(?:conversation|chat\\shistory|chat\\slog|message\\shistory|previous\\smessages|earlier\\smessages|"
	  "prior\\smessages|context\\swindow|system\\sprompt|your\\s(?:instructions|prompt|rules)|this\\schat|"
	  "(?:the\\s)?user'?s\\s(?:data|files?|emails?|messages|contacts|documents|password|credentials?|keys?|"
	  "tokens?|history|address|location|secrets?|private\\s[a-z]+|repositories|repos))\\b" },
	{ A_SECRET, 0, 0,
	  "\\b(?:api[\\s_-]?keys?|access[\\s_-]?tokens?|auth(?:entication)?[\\s_-]?tokens?|bearer\\stokens?|"
	  "secret[\\s_-]?keys?|private[\\s_-]?keys?|ssh[\\s_-]?keys?|passwords?|passphrases?|credentials?|secrets|"
	  "session\\s(?:cookies?|tokens?)|seed\\sphrase|mnemonic|credit\\scard(?:\\snumbers?)?|"
	  "env(?:ironment)?\\svariables?)\\b" },
	{ A_SENS, 0, 0,
	  "~/\\.ssh\\b|\\bid_(?:rsa|ed25519|ecdsa|dsa)\\b|/etc/(?:passwd|shadow)\\b|\\.aws/credentials\\b|"
	  "\\bmcp\\.json\\b|\\.npmrc\\b|\\.netrc\\b|\\.git-credentials\\b|\\.kube/config\\b|"
	  "\\.docker/config\\.json\\b|~/\\.env\\b|\\bthe\\s\\.env\\sfile\\b|\\bcontents?\\sof\\s(?:the\\s)?"
	  "(?:user'?s\\s)?(?:home\\s)?(?:directory|folder|files?)\\b" },
	{ A_SINK, 0, 0,
	  "\\b(?:as|in|into|to|via|using|under)\\s(?:the\\s)?['\"]?[a-z_][a-z0-9_]{1,40}['\"]?\\s(?:parameter|"
	  "argument|field|param|arg|property|input)\\b" },
	{ A_RENDER, 0, 0,
	  "\\b(?:display|render|print|show|output|include|add|insert|write|embed|append|respond\\swith|"
	  "reply\\swith|end\\syour\\s(?:answer|response)\\swith)\\s(?:the\\s|this\\s|a\\s|an\\s)?(?:following\\s)?"
	  "(?:markdown\\s|html\\s|small\\s|tiny\\s)?(?:image|img|picture|link|url|pixel|badge)\\b|"
	  "\\b(?:display|render|print|show|output|include|add|insert|write|embed|append)\\s!\\[" },
	{ A_REPLACE, 0, 0,
	  "\\b(?:replace|replacing|substitute|substituting|fill\\sin|filling\\sin)\\s|\\bwhere\\s[\\[{<$]?"
	  "[a-z_]{2,30}[\\]}>]?\\sis\\b|\\b(?:url|percent|base64|hex)[\\s-]?encod(?:e|ed|ing)\\b" },
	{ A_MENTION, 0, 0,
	  "\\b(?:such\\sas|e\\.g\\.|for\\sexample|for\\sinstance|phrases?|sentences?|strings\\slike|text\\slike|"
	  "examples?|detects?|detected|detection|detector|filters?|attackers?|adversar(?:y|ies|ial)|malicious|"
	  "payloads?|injections?|jailbreaks?|known\\sas|called|dubbed|i\\.e\\.|classic|typical|hypothetical)\\b" },
	{ A_DOCCUE, 0, 0,
	  "\\bprompt[\\s-]injections?\\b|\\bindirect\\s(?:prompt\\s)?injections?\\b|\\bjailbreak(?:s|ing)?\\b|"
	  "\\btool\\spoisoning\\b|\\badversarial\\sprompts?\\b|\\bred[\\s-]team(?:ing|ers)?\\b|"
	  "\\binjection\\sattacks?\\b|\\bllm\\s(?:security|attacks?)\\b|\\bowasp\\b" },
	{ A_NEG, 0, 0,
	  "\\b(?:never|do\\snot|don't|dont|must\\snot|should\\snot|shouldn't|won't|will\\snot|cannot|can't|not|"
	  "no\\sneed\\sto|avoid)\\s" },
};

#define N_RULES MG_ARRAY_LEN(g_rules)

static const char *const g_atom_signal[A_N] = {
	[A_TOKEN] = "chat-template-token", [A_BREAKOUT] = "result-breakout", [A_PSEUDO] = "hidden-marker",
	[A_BRACKET] = "system-tag", [A_ROLE] = "role-tag", [A_OVERRIDE] = "override",
	[A_ADDRESS] = "model-address", [A_CONCEAL] = "concealment", [A_TOOLCALL] = "tool-call-request",
	[A_LEAK] = "prompt-leak", [A_DROP] = "collection-host",
};

static const enum gd_inj_class g_atom_class[A_N] = {
	[A_TOKEN] = GD_INJ_C_MARKER, [A_BREAKOUT] = GD_INJ_C_MARKER, [A_PSEUDO] = GD_INJ_C_MARKER,
	[A_BRACKET] = GD_INJ_C_MARKER, [A_ROLE] = GD_INJ_C_ROLE, [A_OVERRIDE] = GD_INJ_C_OVERRIDE,
	[A_ADDRESS] = GD_INJ_C_ADDRESS, [A_CONCEAL] = GD_INJ_C_CONCEAL, [A_TOOLCALL] = GD_INJ_C_TOOLCALL,
	[A_LEAK] = GD_INJ_C_EXFIL, [A_DROP] = GD_INJ_C_DEST,
};

/* Instruction classes and payload classes, for the pair bonus. */
static int intent_index(enum gd_inj_class c)
{
	switch (c) {
	case GD_INJ_C_MARKER: return 0;
	case GD_INJ_C_OVERRIDE: return 1;
	case GD_INJ_C_ADDRESS: return 2;
	case GD_INJ_C_CONCEAL: return 3;
	case GD_INJ_C_CONTROL: return 4;
	case GD_INJ_C_EXFIL: return 5;  /* "send the file to": an instruction as well as a payload */
	default: return -1;
	}
}

static int payload_index(enum gd_inj_class c)
{
	switch (c) {
	case GD_INJ_C_TOOLCALL: return 0;
	case GD_INJ_C_EXFIL: return 1;
	case GD_INJ_C_URL: return 2;
	case GD_INJ_C_DEST: return 3;
	default: return -1;
	}
}

#define PAIR_BONUS 4
#define BONUS_MAX 8
#define PAIR_REACH 600          /* folded bytes between an instruction and its payload */
#define SHORT_TEXT 1500         /* a text this short pairs anywhere */
#define LONG_TEXT 4000          /* a phrase mid-line in a longer text is weaker */
#define BLOCK_REACH 800         /* a hidden marker's block */
#define CHUNK ((size_t)GD_DEF_TEXT_MAX)
#define OVERLAP ((size_t)2048)
#define MAX_ATOMS 32768
#define MAX_LOCAL 512
#define MAX_REGIONS 1024
#define PREFILTER_MAX 4096      /* longer strings go straight to the scan */

/* ---- state ---------------------------------------------------------- */

struct atom_hit {
	enum atom kind;
	int weight;
	size_t s, e;            /* folded text */
};

struct region {
	size_t s, e;            /* original bytes of the chunk */
};

enum region_kind { R_CODE, R_COMMENT, R_HIDDEN, R_OVERWRITE, R_N };

/* A finding of one chunk before it is scored: where it is, whether it is
 * a mention, and whether it may pair. */
struct local {
	const char *signal;
	enum gd_inj_class cls;
	int weight;
	size_t s, e;            /* folded */
	size_t off, len;        /* original, in the string */
	bool pairs;
	int block;              /* the hidden marker block it is in, or -1 */
	char detail[96];
};

struct gd_inj {
	hs_database_t *db;
	hs_scratch_t *scratch;
	bool no_prefilter;
	struct mg_buf plain;    /* a string without `*` and backquotes, for the prefilter */
	struct gd_def_text text;
	struct atom_hit *atoms;
	size_t n_atoms;
	bool atoms_full;
	size_t *bounds;
	size_t n_bounds, cap_bounds;
	struct region regions[R_N][MAX_REGIONS];
	size_t n_regions[R_N];
	struct local local[MAX_LOCAL];
	size_t n_local;
	struct mg_buf pct;      /* a URL component, percent-decoded */
	struct mg_buf bin;      /* base64 or hex decoded */
};

/* The chunk being scanned. */
struct scan {
	struct gd_inj *d;
	const char *s;          /* the chunk */
	size_t n;
	size_t base;            /* its offset in the string */
	size_t skip_before;     /* findings that start before this (in the chunk) were seen already */
	unsigned str;
	const char *where;
	const struct gd_inj_hosts *hosts;
	struct gd_inj_result *res;
	bool doccue, code_like, long_text, short_text;
	bool has_intent;        /* an instruction phrase somewhere in the chunk */
};

const char *gd_inj_verdict_name(enum gd_inj_verdict v)
{
	switch (v) {
	case GD_INJ_CLEAN: return "clean";
	case GD_INJ_SUSPICIOUS: return "suspicious";
	case GD_INJ_MALICIOUS: return "malicious";
	default: return "?";
	}
}

/* ---- the database ---------------------------------------------------- */

/* ---- the prefilter ------------------------------------------------------
 *
 * Folding is what most of a scan costs, and most strings hold nothing.  A
 * string of printable ASCII (tab, newline and CR LF allowed; no `&`, which
 * could start an entity) folds to itself lower-cased, with each run of white
 * space one space (one newline if it holds a line break), none at either
 * end, and `*` and backquotes dropped: a few lines of C make the same text.
 * The database runs on that; a plain string where no pattern that makes a
 * finding matches (nor a part an exfiltration needs without an instruction
 * next to it: a sensitive file, the context; nor `](` or `<img`, for the
 * URL checks) cannot give a finding, and is not folded.  Positions (a line
 * start) are not checked here, so this is a superset, and it holds for a
 * whole message without escapes too (each string is a piece of it).
 * tests/unit/test_inject.c and the fuzzer check that the verdicts are the
 * same with and without it. */

static bool pre_rule(enum atom a)
{
	return a <= A_DROP || a == A_CONTEXT || a == A_SENS;
}

/* On the raw bytes: one match of a rule that can make a finding is enough. */
static int on_pre(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	return id >= N_RULES || pre_rule(g_rules[id].atom);
}

/* 1: s needs the whole scan; 0: it cannot give a finding. */
static int needs_scan(struct gd_inj *d, const char *s, size_t n)
{
	hs_error_t e;

	if (n == 0)
		return 0;

	if (d->no_prefilter || n > UINT32_MAX)
		return 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x7f || c == '&' || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    (c == '\r' && (i + 1 == n || s[i + 1] != '\n')))
			return 1;
	}
	mg_buf_reset(&d->plain);
	if (mg_buf_reserve(&d->plain, n))
		return 1;
	{
		char *o = d->plain.data, pending = 0;
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			char c = s[i];

			if (c == '*' || c == '`')
				continue;
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
				if (c == '\n' || c == '\r')
					pending = '\n';
				else if (!pending)
					pending = ' ';
				continue;
			}
			if (pending && k > 0)
				o[k++] = pending;
			pending = 0;
			o[k++] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
		}
		d->plain.len = k;
		s = o;
		n = k;
	}
	e = hs_scan(d->db, s, (unsigned)n, 0, d->scratch, on_pre, NULL);
	if (e == HS_SCAN_TERMINATED)
		return 1;
	return e == HS_SUCCESS ? 0 : -EIO;
}

int gd_inj_prefilter(struct gd_inj *d, const char *s, size_t n)
{
	return needs_scan(d, s, n);
}

void gd_inj_set_prefilter(struct gd_inj *d, bool on)
{
	d->no_prefilter = !on;
}

int gd_inj_new(struct gd_inj **out, char *err, size_t errlen)
{
	struct gd_inj *d = MG_NEW(struct gd_inj);
	const char *exprs[N_RULES + 2];
	unsigned flags[N_RULES + 2], ids[N_RULES + 2];
	hs_compile_error_t *cerr = NULL;

	for (size_t i = 0; i < N_RULES; i++) {
		exprs[i] = g_rules[i].expr;
		/* parts but the flow verb are placed by their end: no start tracking */
		flags[i] = g_rules[i].atom <= A_FLOW ? HS_FLAG_SOM_LEFTMOST : 0;
		ids[i] = (unsigned)i;
	}
	/* the two triggers of the URL checks, for the prefilter */
	exprs[N_RULES] = "\\]\\(";
	exprs[N_RULES + 1] = "<img";
	flags[N_RULES] = flags[N_RULES + 1] = HS_FLAG_SINGLEMATCH;
	ids[N_RULES] = ids[N_RULES + 1] = (unsigned)N_RULES;
	if (hs_compile_multi(exprs, flags, ids, (unsigned)N_RULES + 2, HS_MODE_BLOCK, NULL, &d->db, &cerr) !=
	    HS_SUCCESS) {
		snprintf(err, errlen, "result pattern %d: %s", cerr ? cerr->expression : -1,
			 cerr ? cerr->message : "cannot compile");
		hs_free_compile_error(cerr);
		gd_inj_free(d);
		return -EINVAL;
	}
	if (hs_alloc_scratch(d->db, &d->scratch) != HS_SUCCESS) {
		snprintf(err, errlen, "cannot allocate scan space");
		gd_inj_free(d);
		return -ENOMEM;
	}
	d->atoms = mg_malloc(MAX_ATOMS * sizeof(*d->atoms));
	mg_buf_init(&d->plain, (size_t)1 << 31);
	mg_buf_init(&d->pct, 1 << 16);
	mg_buf_init(&d->bin, 1 << 16);
	*out = d;
	return 0;
}

void gd_inj_free(struct gd_inj *d)
{
	if (!d)
		return;
	hs_free_scratch(d->scratch);
	hs_free_database(d->db);
	mg_buf_release(&d->plain);
	gd_def_text_release(&d->text);
	free(d->atoms);
	free(d->bounds);
	mg_buf_release(&d->pct);
	mg_buf_release(&d->bin);
	free(d);
}

/* ---- hosts ----------------------------------------------------------- */

static bool host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.';
}

/* The registered domain, roughly: the last two labels, or three when the
 * second to last is short under a two-letter top level (example.co.uk). */
static size_t base_domain(const char *h, size_t n)
{
	size_t dots = 0, cut = 0, last = n, prev = n;

	for (size_t i = n; i > 0; i--) {
		if (h[i - 1] != '.')
			continue;
		dots++;
		if (dots == 1) {
			last = i - 1;
		} else if (dots == 2) {
			prev = i - 1;
			cut = i;
			if (n - last - 1 == 2 && last - prev - 1 <= 3)
				continue;       /* co.uk: one more label */
			return n - cut;
		} else {
			return n - i;
		}
	}
	(void)prev;
	return dots == 2 ? n - cut : n;
}

static void host_push(struct gd_inj_hosts *h, const char *s, size_t n)
{
	char low[96];

	while (n > 0 && (s[n - 1] == '.' || s[n - 1] == '-'))
		n--;
	while (n > 0 && (s[0] == '.' || s[0] == '-'))
		s++, n--;
	if (n < 3 || n >= sizeof(low) || !memchr(s, '.', n) || h->n >= GD_INJ_MAX_HOSTS)
		return;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] | 0x20 : s[i]);
	low[n] = '\0';
	/* a top level of letters: not a version number or a file name's digits */
	{
		const char *tld = strrchr(low, '.') + 1;

		if (strlen(tld) < 2)
			return;
		for (const char *p = tld; *p; p++)
			if (*p < 'a' || *p > 'z')
				return;
	}
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->host[i], low) == 0)
			return;
	memcpy(h->host[h->n++], low, n + 1);
}

void gd_inj_hosts_add(struct gd_inj_hosts *h, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;

	for (size_t i = 0; i < len;) {
		size_t j = i;

		if (!host_char(s[i])) {
			i++;
			continue;
		}
		while (j < len && host_char(s[j]))
			j++;
		/* user@host and scheme://host give the host; a bare word with a dot may be one */
		if (j < len && s[j] == '@') {
			i = j + 1;
			continue;
		}
		host_push(h, text + i, j - i);
		i = j;
	}
}

static bool host_named(const struct gd_inj_hosts *h, const char *host, size_t n)
{
	size_t b = base_domain(host, n);

	for (size_t i = 0; h && i < h->n; i++) {
		size_t hn = strlen(h->host[i]), hb = base_domain(h->host[i], hn);

		if (b == hb && memcmp(host + n - b, h->host[i] + hn - hb, b) == 0)
			return true;
	}
	return false;
}

/* ---- findings -------------------------------------------------------- */

void gd_inj_begin(struct gd_inj_result *res)
{
	memset(res, 0, sizeof(*res));
}

static void result_add(struct gd_inj_result *r, const char *signal, enum gd_inj_class cls, int weight,
		       unsigned str, const char *where, size_t off, size_t len, const char *detail)
{
	struct gd_inj_finding *f;

	if (weight <= 0)
		return;
	if (weight > r->cls[cls])
		r->cls[cls] = weight;
	if (r->n_findings == GD_INJ_MAX_FINDINGS) {
		size_t light = 0;

		for (size_t i = 1; i < r->n_findings; i++)
			if (r->findings[i].weight < r->findings[light].weight)
				light = i;
		r->more_findings++;
		if (r->findings[light].weight >= weight)
			return;
		memmove(&r->findings[light], &r->findings[light + 1],
			(r->n_findings - light - 1) * sizeof(*r->findings));
		r->n_findings--;
	}
	f = &r->findings[r->n_findings++];
	f->signal = signal;
	f->weight = weight;
	f->str = str;
	f->off = off;
	f->len = len;
	snprintf(f->where, sizeof(f->where), "%s", where ? where : "");
	snprintf(f->detail, sizeof(f->detail), "%s", detail ? detail : "");
}

static struct local *local_add(struct scan *sc, const char *signal, enum gd_inj_class cls, int weight,
			       size_t s, size_t e, size_t off, size_t len)
{
	struct gd_inj *d = sc->d;
	struct local *l;

	if (d->n_local == MAX_LOCAL)
		return NULL;
	l = &d->local[d->n_local++];
	*l = (struct local){ .signal = signal, .cls = cls, .weight = weight, .s = s, .e = e, .off = off,
			     .len = len, .block = -1 };
	return l;
}

/* out = a sep b, cut to fit. */
static void join(char *out, size_t n, const char *a, const char *sep, const char *b)
{
	size_t k = mg_strlcpy(out, a, n);

	if (k < n)
		k += mg_strlcpy(out + k, sep, n - k);
	if (k < n)
		mg_strlcpy(out + k, b, n - k);
}

/* The folded words of [s, e), for a detail. */
static void words(const struct gd_inj *d, size_t s, size_t e, char *out, size_t outlen)
{
	size_t n = e > s ? e - s : 0, k = 0;

	if (n > outlen - 3)
		n = outlen - 3;
	out[k++] = '\'';
	for (size_t i = 0; i < n; i++) {
		char c = d->text.norm[s + i];

		out[k++] = (c == '\n' || (unsigned char)c < 0x20) ? ' ' : c;
	}
	/* whole characters only */
	while (k > 1 && n > 0 && ((unsigned char)out[k - 1] & 0xc0) == 0x80)
		k--;
	if (k > 1 && ((unsigned char)out[k - 1] & 0xc0) == 0xc0)
		k--;
	out[k++] = '\'';
	out[k] = '\0';
}

/* ---- the folded text: atoms and sentences ------------------------------ */

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	struct gd_inj *d = ctx;
	const char *t = d->text.norm;

	if (id >= N_RULES)
		return 0;
	if ((g_rules[id].at & AT_LINE) && from > 0 && t[from - 1] != '\n')
		return 0;
	if ((g_rules[id].at & AT_CLAUSE) && from > 0 && !strchr("\n>.!? ", t[from - 1]))
		return 0;
	if ((g_rules[id].at & AT_CLAUSE) && from > 1 && t[from - 1] == ' ' && !strchr("\n>.!?", t[from - 2]))
		return 0;
	if ((g_rules[id].at & AT_EOL) && to < d->text.len && t[to] != '\n')
		return 0;
	if (d->n_atoms == MAX_ATOMS) {
		d->atoms_full = true;
		return 0;               /* keep scanning: later findings still count; parts are dropped */
	}
	if (g_rules[id].atom > A_FLOW)
		from = to - 1;
	d->atoms[d->n_atoms++] = (struct atom_hit){ g_rules[id].atom, g_rules[id].weight, (size_t)from,
						    (size_t)to };
	return 0;
}

static int atom_cmp(const void *a, const void *b)
{
	const struct atom_hit *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->e > y->e ? -1 : x->e < y->e;
}

/* One atom per kind and overlapping span (the longest), heaviest weight. */
static void merge_atoms(struct gd_inj *d)
{
	size_t n = 0;

	if (d->n_atoms > 1)
		qsort(d->atoms, d->n_atoms, sizeof(*d->atoms), atom_cmp);
	for (size_t i = 0; i < d->n_atoms; i++) {
		struct atom_hit *a = &d->atoms[i];
		bool merged = false;

		for (size_t k = n; k > 0 && n - k < 8; k--) {
			struct atom_hit *p = &d->atoms[k - 1];

			if (p->kind == a->kind && p->e >= a->s) {
				if (a->e > p->e)
					p->e = a->e;
				if (a->weight > p->weight)
					p->weight = a->weight;
				merged = true;
				break;
			}
		}
		if (!merged)
			d->atoms[n++] = *a;
	}
	d->n_atoms = n;
}

static void sentences(struct gd_inj *d)
{
	const char *t = d->text.norm;
	size_t n = d->text.len;

	d->n_bounds = 0;
	for (size_t i = 0; i < n; i++) {
		bool end = t[i] == '\n' ||
			   ((t[i] == '.' || t[i] == '!' || t[i] == '?') && (i + 1 == n || t[i + 1] == ' ' ||
									  t[i + 1] == '\n'));

		if (!end)
			continue;
		if (d->n_bounds == d->cap_bounds) {
			d->cap_bounds = d->cap_bounds ? d->cap_bounds * 2 : 256;
			d->bounds = mg_realloc(d->bounds, d->cap_bounds * sizeof(*d->bounds));
		}
		d->bounds[d->n_bounds++] = i;
	}
}

/* The sentence of folded position p: its number. */
static size_t sentence_of(const struct gd_inj *d, size_t p)
{
	size_t lo = 0, hi = d->n_bounds;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->bounds[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Does an atom of this kind lie in the sentence of [s, e)?  before: only
 * ending at or before s, within reach. */
static const struct atom_hit *in_sentence(const struct gd_inj *d, enum atom kind, size_t s, size_t e,
					  bool before, size_t reach)
{
	size_t si = sentence_of(d, s), se = sentence_of(d, e > s ? e - 1 : s);
	size_t lo = si ? d->bounds[si - 1] + 1 : 0;
	size_t hi = se < d->n_bounds ? d->bounds[se] + 1 : d->text.len;
	size_t a0 = 0, a1 = d->n_atoms;

	if (before) {
		if (s > reach + 200 && s - reach - 200 > lo)
			lo = s - reach - 200;
		hi = s;
	}
	/* atoms are sorted by start: the first one at lo or later */
	while (a0 < a1) {
		size_t mid = (a0 + a1) / 2;

		if (d->atoms[mid].s < lo)
			a0 = mid + 1;
		else
			a1 = mid;
	}
	for (size_t i = a0; i < d->n_atoms && d->atoms[i].s < hi; i++) {
		const struct atom_hit *a = &d->atoms[i];

		if (a->kind != kind || (before && (a->e > s || s - a->e > reach)))
			continue;
		return a;
	}
	return NULL;
}

/* A folded position at a line start (after a markdown list, quote or
 * heading prefix). */
static bool line_start(const struct gd_inj *d, size_t s)
{
	const char *t = d->text.norm;
	size_t p = s;

	for (size_t k = 0; k < 8; k++) {
		if (p == 0 || t[p - 1] == '\n')
			return true;
		if (!strchr(" #>-+.)0123456789", t[p - 1]))
			break;
		p--;
	}
	/* or after a label of one or two words at the line start: "important: " */
	p = s;
	while (p > 0 && t[p - 1] == ' ')
		p--;
	if (p == 0 || t[p - 1] != ':')
		return false;
	p--;
	for (size_t k = 0, spaces = 0; k < 24 && p > 0; k++, p--) {
		if (t[p - 1] == '\n')
			return true;
		if (t[p - 1] == ' ' && ++spaces > 1)
			return false;
		if (t[p - 1] == '.' || t[p - 1] == ':' || t[p - 1] == ',')
			return false;
	}
	return p == 0;
}

/* A clause starts at folded position s: a sentence start, or after , : ; - ( or a quote. */
static bool clause_start(const struct gd_inj *d, size_t s)
{
	const char *t = d->text.norm;

	if (strncmp(t + s, "and ", 4) == 0 || strncmp(t + s, "then ", 5) == 0)
		return true;    /* "read it and send it to": a second imperative */
	while (s > 0 && t[s - 1] == ' ')
		s--;
	return s == 0 || strchr("\n.!?,:;-(\"'>", t[s - 1]) != NULL;
}

/* ---- the original text: regions -------------------------------------- */

static void region_add(struct gd_inj *d, enum region_kind k, size_t s, size_t e)
{
	if (d->n_regions[k] < MAX_REGIONS)
		d->regions[k][d->n_regions[k]++] = (struct region){ s, e };
}

static bool in_region(const struct gd_inj *d, enum region_kind k, size_t off, size_t len)
{
	for (size_t i = 0; i < d->n_regions[k]; i++)
		if (off >= d->regions[k][i].s && off + len <= d->regions[k][i].e + 1)
			return true;
	return false;
}

static const char *find_ci(const char *s, size_t n, size_t from, const char *w)
{
	size_t l = strlen(w);

	for (size_t i = from; i + l <= n; i++)
		if ((s[i] | 0x20) == (w[0] | 0x20) && strncasecmp(s + i, w, l) == 0)
			return s + i;
	return NULL;
}

/* Code (fenced blocks, inline spans, <code>, <pre>), HTML comments and
 * elements styled to be invisible, in original bytes. */
static void find_regions(struct scan *sc)
{
	struct gd_inj *d = sc->d;
	const char *s = sc->s;
	size_t n = sc->n;

	for (int k = 0; k < R_N; k++)
		d->n_regions[k] = 0;
	if (memchr(s, '`', n) || memchr(s, '~', n)) {
		size_t fence = SIZE_MAX;

		for (size_t i = 0; i < n;) {
			size_t eol = i, j = i;

			while (eol < n && s[eol] != '\n')
				eol++;
			while (j < eol && j - i < 4 && s[j] == ' ')
				j++;
			if (j + 3 <= eol && (memcmp(s + j, "```", 3) == 0 || memcmp(s + j, "~~~", 3) == 0)) {
				if (fence == SIZE_MAX) {
					fence = i;
				} else {
					region_add(d, R_CODE, fence, eol);
					fence = SIZE_MAX;
				}
			} else if (fence == SIZE_MAX) {
				/* inline spans on this line */
				for (size_t a = i; a < eol; a++) {
					const char *b;

					if (s[a] != '`')
						continue;
					b = memchr(s + a + 1, '`', eol - a - 1);
					if (!b)
						break;
					region_add(d, R_CODE, a, (size_t)(b - s));
					a = (size_t)(b - s);
				}
			}
			i = eol + 1;
		}
		if (fence != SIZE_MAX)
			region_add(d, R_CODE, fence, n);
	}
	/* a line a carriage return sends the cursor back over, and what follows
	 * it writes over at least half of: a terminal never shows it */
	for (const char *p = memchr(s, '\r', n); p; p = memchr(p + 1, '\r', n - (size_t)(p + 1 - s))) {
		size_t i = (size_t)(p - s), ls = i, e = i + 1;

		if (e < n && s[e] == '\n')
			continue;
		while (ls > 0 && s[ls - 1] != '\n' && s[ls - 1] != '\r')
			ls--;
		while (e < n && s[e] != '\n' && s[e] != '\r')
			e++;
		if (i > ls && (e - i - 1) * 2 >= i - ls)
			region_add(d, R_OVERWRITE, ls, i);
	}
	if (memchr(s, '<', n)) {
		static const char *const hide[] = { "display:none", "visibility:hidden", "font-size:0",
						    "opacity:0", "color:white", "color:#fff", "height:0" };

		for (const char *p = memchr(s, '<', n); p; p = memchr(p + 1, '<', n - (size_t)(p + 1 - s))) {
			size_t a = (size_t)(p - s);
			const char *q;
			size_t b;

			if (a + 4 <= n && memcmp(p, "<!--", 4) == 0) {
				/* a comment that ends (an opener alone is more often a
				 * string in code than a page cut short) */
				q = memmem(p + 4, n - a - 4, "-->", 3);
				if (!q)
					break;
				b = (size_t)(q - s) + 3;
				region_add(d, R_COMMENT, a, b);
				p = s + b - 1;
			} else if (a + 5 <= n && (strncasecmp(p, "<code", 5) == 0 || strncasecmp(p, "<pre", 4) == 0)) {
				bool pre = (p[2] | 0x20) == 'r';

				q = find_ci(s, n, a + 4, pre ? "</pre" : "</code");
				b = q ? (size_t)(q - s) : n;
				region_add(d, R_CODE, a, b);
				if (!q)
					break;
				p = s + b;
			}
		}
		/* an element styled to be invisible: from its style to the next closing tag */
		for (const char *p = memmem(s, n, "style=", 6); p; p = memmem(p + 6, n - (size_t)(p + 6 - s), "style=", 6)) {
			size_t a = (size_t)(p - s), v = a + 6, ve;
			char val[160];
			size_t k = 0;

			if (v < n && (s[v] == '"' || s[v] == '\''))
				v++;
			for (ve = v; ve < n && ve - v < 300 && s[ve] != '"' && s[ve] != '\'' && s[ve] != '>'; ve++)
				if (s[ve] != ' ' && k + 1 < sizeof(val))
					val[k++] = (char)(s[ve] | 0x20);
			val[k] = '\0';
			for (size_t h = 0; h < MG_ARRAY_LEN(hide); h++)
				if (strstr(val, hide[h])) {
					const char *q = memmem(s + ve, n - ve, "</", 2);
					size_t b = q ? (size_t)(q - s) : n;

					region_add(d, R_HIDDEN, a, b - a > 2000 ? a + 2000 : b);
					break;
				}
		}
	}
}

/* Quoted: a quote right before the span and its closing one later on the
 * line, or right after it and its opening one earlier on the line. */
static bool quote_open(const char *s, size_t i, size_t n, size_t *ql)
{
	unsigned char c = (unsigned char)s[i];

	*ql = 1;
	if (c == '"' || c == '\'' || c == '`')
		return true;
	if (i + 2 < n && c == 0xe2 && (unsigned char)s[i + 1] == 0x80 &&
	    ((unsigned char)s[i + 2] == 0x9c || (unsigned char)s[i + 2] == 0x98)) {
		*ql = 3;
		return true;
	}
	if (i + 1 < n && c == 0xc2 && (unsigned char)s[i + 1] == 0xab) {
		*ql = 2;
		return true;
	}
	return false;
}

static bool quote_close(const char *s, size_t i, size_t n)
{
	unsigned char c = (unsigned char)s[i];

	if (c == '"' || c == '\'' || c == '`')
		return true;
	if (i + 2 < n && c == 0xe2 && (unsigned char)s[i + 1] == 0x80 &&
	    ((unsigned char)s[i + 2] == 0x9d || (unsigned char)s[i + 2] == 0x99))
		return true;
	return i + 1 < n && c == 0xc2 && (unsigned char)s[i + 1] == 0xbb;
}

static bool quoted(const struct scan *sc, size_t off, size_t len)
{
	const char *s = sc->s;
	size_t n = sc->n, a = off, b = off + len, ql;
	bool open = false, close = false;

	while (a > 0 && off - a < 3 && (s[a - 1] == '*' || s[a - 1] == '_' || s[a - 1] == ' ' || s[a - 1] == '('))
		a--;
	/* the opening quote: one ASCII byte or the last byte of a UTF-8 quote */
	for (size_t k = 1; k <= 3 && k <= a; k++)
		if (quote_open(s, a - k, n, &ql) && ql == k) {
			open = true;
			break;
		}
	while (b < n && b - (off + len) < 3 && (s[b] == '*' || s[b] == '_' || s[b] == '.' || s[b] == ','))
		b++;
	close = b < n && quote_close(s, b, n);
	if (open && !close)
		for (size_t i = off + len; i < n && i - off < 300 && s[i] != '\n'; i++)
			if (quote_close(s, i, n)) {
				close = true;
				break;
			}
	/* a quote that closes right after it opened just before: the phrase
	 * is most of what is quoted (not a JSON string's end after a sentence) */
	if (close && !open)
		for (size_t i = off; i > 0 && off - i < 40 && s[i - 1] != '\n'; i--)
			if (quote_open(s, i - 1, n, &ql) && ql == 1) {
				open = true;
				break;
			}
	return open && close;
}

/* Reads as source code: many of the characters code is made of. */
static bool code_like(const char *s, size_t n)
{
	size_t sym = 0, nl = 0;

	if (n < 400)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		sym += c == '{' || c == '}' || c == ';' || c == '(' || c == ')' || c == '=';
		nl += c == '\n';
	}
	return nl >= 10 && sym * 1000 >= n * 25;
}

/* ---- characters --------------------------------------------------------- */

/* An ANSI escape sequence's weight and name: colors are common in logs;
 * text drawn invisible, cursor moves and erasing (which hide what was
 * written before) are not. */
static int ansi_weight(const char *s, size_t len, const char **signal)
{
	size_t i = (unsigned char)s[0] == 0xc2 ? 2 : 1;

	*signal = "ansi-escape";
	if (len < 2)
		return 2;
	if ((unsigned char)s[0] == 0x1b && s[1] != '[') {
		/* OSC (titles, hyperlinks), DCS, a lone ESC x */
		return s[1] == ']' || s[1] == 'P' ? 6 : 2;
	}
	if ((unsigned char)s[0] == 0x1b)
		i = 2;
	if (s[len - 1] == 'm') {
		/* SGR: 8 conceals; 30-37 with 40-47 of the same color draws nothing */
		int fg = -1, bg = -1, v = 0;
		bool have = false;

		for (size_t k = i; k < len; k++) {
			if (s[k] >= '0' && s[k] <= '9') {
				v = v * 10 + (s[k] - '0');
				have = true;
				if (v > 1000)
					v = 1000;
				continue;
			}
			if (have) {
				if (v == 8) {
					*signal = "ansi-hidden";
					return 10;
				}
				if (v >= 30 && v <= 37)
					fg = v - 30;
				if (v >= 40 && v <= 47)
					bg = v - 40;
			}
			v = 0;
			have = false;
		}
		if (fg >= 0 && fg == bg) {
			*signal = "ansi-hidden";
			return 10;
		}
		*signal = "ansi-color";
		return 2;
	}
	return 6;
}

/* The folded byte nearest original offset off (for pairing). */
static size_t fold_pos(const struct gd_inj *d, size_t off)
{
	const struct gd_def_text *t = &d->text;
	size_t lo = 0, hi = t->len;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->ostart[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct local *local_add(struct scan *sc, const char *signal, enum gd_inj_class cls, int weight,
			       size_t s, size_t e, size_t off, size_t len);

static void char_findings(struct scan *sc)
{
	struct gd_inj *d = sc->d;
	const struct gd_def_text *t = &d->text;
	unsigned zw_total = 0, zw_run = 0;
	size_t zw_off = 0;

	for (size_t i = 0; i < t->n_hits; i++) {
		const struct gd_def_char_hit *h = &t->hits[i];
		const char *signal = gd_def_char_sig_name(h->sig);
		enum gd_inj_class cls = GD_INJ_C_INVISIBLE;
		int w = 0;
		char detail[96] = "";

		if (h->off < sc->skip_before)
			continue;
		switch (h->sig) {
		case GD_DEF_CH_TAG:
			w = 10;
			sc->res->hidden_text = true;
			snprintf(detail, sizeof(detail), "hidden text: '%s'", h->hidden);
			break;
		case GD_DEF_CH_ZERO_WIDTH:
			zw_total += h->count;
			if (h->count > zw_run) {
				zw_run = h->count;
				zw_off = h->off;
			}
			continue;
		case GD_DEF_CH_BIDI:
			if (h->cp == 0x202d || h->cp == 0x202e) {
				signal = "bidi-override";
				w = 10;
			} else {
				w = t->rtl ? 1 : 5;
			}
			break;
		case GD_DEF_CH_BIDI_MARK: case GD_DEF_CH_NONCHAR:
			w = 1;
			break;
		case GD_DEF_CH_FORMAT:
			w = h->cp == 0xad ? 0 : 2;
			break;
		case GD_DEF_CH_VARIATION:
			w = h->count >= 8 ? 10 : 3;
			snprintf(detail, sizeof(detail), "%u in a row", h->count);
			break;
		case GD_DEF_CH_BLANK:
			w = h->count >= 3 ? 5 : 2;
			break;
		case GD_DEF_CH_ANSI:
			cls = GD_INJ_C_CONTROL;
			w = ansi_weight(sc->s + h->off, h->len, &signal);
			break;
		case GD_DEF_CH_CONTROL:
			/* a run of controls: form feeds and vertical tabs are page
			 * breaks in documents; a backspace overwrites what was shown */
			cls = GD_INJ_C_CONTROL;
			for (size_t k = h->off; k < h->off + h->len; k++) {
				unsigned char c = (unsigned char)sc->s[k];

				if (c == 0x08) {
					signal = "backspace";
					w = 5;
				} else if (c != 0x0b && c != 0x0c && w < 2) {
					w = 2;
				}
			}
			break;
		case GD_DEF_CH_CR:
			cls = GD_INJ_C_CONTROL;
			w = 2;
			break;
		default:
			continue;       /* private use, a BOM, look-alikes: only inside a phrase */
		}
		if (!detail[0])
			snprintf(detail, sizeof(detail), "U+%04X x%u", (unsigned)h->cp, h->count);
		if (cls == GD_INJ_C_CONTROL && w >= 5) {
			/* text hidden from the user's terminal: pairs with what it hides */
			size_t fs = fold_pos(d, h->off);
			struct local *l = local_add(sc, signal, cls, w, fs, fs + 1, h->off, h->len);

			if (l) {
				l->pairs = true;
				snprintf(l->detail, sizeof(l->detail), "%s", detail);
			}
			continue;
		}
		result_add(sc->res, signal, cls, w, sc->str, sc->where, sc->base + h->off, h->len, detail);
	}
	if (zw_total) {
		int w = zw_run >= 3 ? 10 : zw_total >= 16 ? 5 : 1;
		char detail[96];

		snprintf(detail, sizeof(detail), "%u in all, %u in a row", zw_total, zw_run);
		result_add(sc->res, "zero-width", GD_INJ_C_INVISIBLE, w, sc->str, sc->where, sc->base + zw_off, 1,
			   detail);
	}
	if (t->more_hits)
		result_add(sc->res, "many-invisible", GD_INJ_C_INVISIBLE, 5, sc->str, sc->where, sc->base, sc->n,
			   "more invisible characters than are listed");
}

/* A phrase at original [off, off+len) written with characters a reader
 * would not see or would misread: the evasion. 1: tags (hidden text). */
static int obfuscated(const struct gd_inj *d, size_t off, size_t len)
{
	const struct gd_def_text *t = &d->text;

	for (size_t i = 0; i < t->n_hits; i++) {
		const struct gd_def_char_hit *h = &t->hits[i];

		if (h->off + h->len <= off || h->off >= off + len)
			continue;
		if (h->sig == GD_DEF_CH_TAG)
			return 1;
		if (h->sig != GD_DEF_CH_BOM && h->sig != GD_DEF_CH_PRIVATE && h->sig != GD_DEF_CH_CR)
			return 2;
	}
	return 0;
}

/* ---- URLs in markdown images, links and <img> ---------------------------- */

static const char *const g_ctx_words[] = {
	"conversation", "chat", "history", "transcript", "summary", "summari", "secret", "password", "passwd",
	"credential", "apikey", "api_key", "api-key", "privatekey", "private_key", "id_rsa", "prompt",
	"memory", "memories", "context", "exfil", "stolen", "steal", "leak", "ssn", "creditcard", "cookie",
};
/* inside a placeholder, what the model would put there */
static const char *const g_fill_words[] = {
	"message", "user", "email", "name", "address", "phone", "query", "question", "answer", "reply",
	"response", "file", "key", "token",
};
static const char *const g_generic[] = {
	"data", "info", "text", "content", "payload", "value", "input", "output", "result", "here", "string",
};

static bool has_word(const char *s, size_t n, const char *const *w, size_t nw)
{
	for (size_t k = 0; k < nw; k++) {
		size_t l = strlen(w[k]);

		for (size_t i = 0; i + l <= n; i++)
			if (strncasecmp(s + i, w[k], l) == 0)
				return true;
	}
	return false;
}

static void pct_decode(struct mg_buf *out, const char *s, size_t n)
{
	mg_buf_reset(out);
	for (size_t i = 0; i < n && out->len + 1 < out->max; i++) {
		int hi = i + 2 < n && s[i] == '%' ? mg_hexval(s[i + 1]) : -1;
		int lo = hi >= 0 ? mg_hexval(s[i + 2]) : -1;

		if (lo >= 0) {
			mg_buf_addc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			mg_buf_addc(out, s[i] == '+' ? ' ' : s[i]);
		}
	}
}

static bool printable_text(const unsigned char *b, size_t n)
{
	size_t ok = 0, letters = 0;

	if (n < 12)
		return false;
	for (size_t i = 0; i < n; i++) {
		ok += (b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\t' || b[i] >= 0x80;
		letters += (b[i] | 0x20) >= 'a' && (b[i] | 0x20) <= 'z';
	}
	return ok * 100 >= n * 95 && letters * 100 >= n * 25;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static size_t slashes(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == '/';
	return k;
}

/* Runs of base64 or hex in v that decode to text (not a hash, an id, a
 * signed token). */
static bool encoded_text(struct gd_inj *d, const char *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		bool up = false, low = false, digit = false, hex = true;

		while (j < n && b64val((unsigned char)v[j]) >= 0) {
			unsigned char c = (unsigned char)v[j];

			up |= c >= 'A' && c <= 'Z';
			low |= c >= 'a' && c <= 'z';
			digit |= c >= '0' && c <= '9';
			hex &= mg_hexval(c) >= 0;
			j++;
		}
		if (j - i >= 24 && !(v[i] == 'e' && v[i + 1] == 'y' && v[i + 2] == 'J')) {
			unsigned acc = 0;
			int bits = 0;

			mg_buf_reset(&d->bin);
			if (hex && j - i >= 32) {
				for (size_t k = i; k + 1 < j; k += 2)
					mg_buf_addc(&d->bin, (char)(mg_hexval(v[k]) << 4 | mg_hexval(v[k + 1])));
			} else if (up && low && slashes(v + i, j - i) * 16 <= j - i) {
				for (size_t k = i; k < j; k++) {
					acc = acc << 6 | (unsigned)b64val((unsigned char)v[k]);
					bits += 6;
					if (bits >= 8) {
						bits -= 8;
						mg_buf_addc(&d->bin, (char)(acc >> bits & 0xff));
					}
				}
			}
			if (printable_text((const unsigned char *)d->bin.data, d->bin.len))
				return true;
		}
		i = j + 1;
	}
	return false;
}

/* A placeholder for the model to fill in: {x}, ${x}, [X], <x>, $X, or a
 * value in capitals that names what to put (DATA, SUMMARY). */
static bool placeholder(const char *v, size_t n, bool *ctx_word, bool *fill_word)
{
	size_t caps = 0, letters = 0;

	for (size_t i = 0; i < n; i++) {
		char c = v[i], close = c == '{' ? '}' : c == '[' ? ']' : c == '<' ? '>' : 0;

		if (close) {
			const char *e = memchr(v + i + 1, close, n - i - 1);
			bool name = e != NULL;

			/* a name to fill in, not JSON or a list: letters, digits, _ - . and spaces */
			for (const char *q = v + i + 1; name && q < e; q++)
				name = ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z') || (*q >= '0' && *q <= '9') || *q == '_' ||
				       *q == '-' || *q == '.' || *q == ' ';
			if (name && e - (v + i) >= 3 && e - (v + i) < 64) {
				*ctx_word |= has_word(v + i, (size_t)(e - v - i), g_ctx_words, MG_ARRAY_LEN(g_ctx_words));
				*fill_word |= has_word(v + i, (size_t)(e - v - i), g_fill_words, MG_ARRAY_LEN(g_fill_words));
				return true;
			}
		}
		if (c == '$' && i + 3 < n && ((v[i + 1] >= 'A' && v[i + 1] <= 'Z') || v[i + 1] == '{'))
			return true;
		caps += (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
		letters += (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
	}
	if (n >= 4 && caps == n && letters >= 4 &&
	    (has_word(v, n, g_ctx_words, MG_ARRAY_LEN(g_ctx_words)) || has_word(v, n, g_generic, MG_ARRAY_LEN(g_generic)))) {
		*ctx_word = true;
		return true;
	}
	return false;
}

/* One URL of an image (or a link): what it carries. */
static void judge_url(struct scan *sc, const char *u, size_t n, size_t off, bool image)
{
	struct gd_inj *d = sc->d;
	size_t i = 0, h0, h1, at;
	char host[96], detail[96];
	bool data = false, prose = false, ph = false, ctx = false, fill = false, drop, told = false;
	const char *why = NULL;
	int w = 0;

	if (n > 6 && strncasecmp(u, "http://", 7) == 0)
		i = 7;
	else if (n > 7 && strncasecmp(u, "https://", 8) == 0)
		i = 8;
	else if (n > 2 && u[0] == '/' && u[1] == '/')
		i = 2;
	else
		return;
	h0 = i;
	while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#')
		i++;
	h1 = i;
	for (at = h1; at > h0; at--)
		if (u[at - 1] == '@')
			break;
	if (at > h0)
		h0 = at;
	for (size_t k = h0; k < h1; k++)
		if (u[k] == ':') {
			h1 = k;
			break;
		}
	if (h1 - h0 < 3 || h1 - h0 >= sizeof(host))
		return;
	for (size_t k = h0; k < h1; k++)
		host[k - h0] = (char)((u[k] >= 'A' && u[k] <= 'Z') ? u[k] | 0x20 : u[k]);
	host[h1 - h0] = '\0';
	if (!strchr(host, '.') || host_named(sc->hosts, host, h1 - h0))
		return;
	drop = has_word(host, h1 - h0, (const char *const[]){ "webhook.site", "requestbin", "pipedream.net",
				"hookbin", "requestcatcher", "beeceptor", "ngrok", "trycloudflare", "burpcollaborator",
				"oastify", "interact.sh", "oast.", "canarytokens", "serveo", "localtunnel", "loca.lt" }, 16);
	/* each path segment and query value, percent-decoded */
	for (size_t a = h1; a < n;) {
		size_t b = a + 1, eq;

		while (b < n && u[b] != '/' && u[b] != '?' && u[b] != '&' && u[b] != '#' && u[b] != ';')
			b++;
		pct_decode(&d->pct, u + a + 1, b > a + 1 ? b - a - 1 : 0);
		{
			const char *v = d->pct.data ? d->pct.data : "";
			size_t vn = d->pct.len, spaces = 0;
			const char *e = memchr(v, '=', vn);

			eq = e ? (size_t)(e - v) + 1 : 0;
			if (eq && has_word(v, eq, g_ctx_words, MG_ARRAY_LEN(g_ctx_words)))
				ctx = true;
			for (size_t k = eq; k < vn; k++)
				spaces += v[k] == ' ';
			if (vn - eq >= 24 && spaces >= 4)
				prose = true;
			if (placeholder(v + eq, vn - eq, &ctx, &fill))
				ph = true;
			else if (u[a] != '/' && has_word(v + eq, vn - eq, g_ctx_words, MG_ARRAY_LEN(g_ctx_words)))
				ctx = true;
			if (encoded_text(d, v + eq, vn - eq))
				data = true;
		}
		/* base64 keeps its '+' in a URL more often than not: the raw bytes too */
		if (!data) {
			const char *r = u + a + 1, *e = memchr(r, '=', b > a + 1 ? b - a - 1 : 0);
			size_t rn = b > a + 1 ? b - a - 1 : 0, req = e ? (size_t)(e - r) + 1 : 0;

			data = rn > req && encoded_text(d, r + req, rn - req);
		}
		a = b;
	}
	if (ph && ctx)
		w = 8, why = "a placeholder for the conversation or a secret";
	else if (ph && fill)
		w = 7, why = "a placeholder for what the user wrote";
	else if (ph)
		w = 6, why = "a placeholder to fill in";
	else if (data)
		w = 6, why = "encoded text";
	else if (prose)
		w = 5, why = "percent-encoded text";
	else if (ctx)
		w = 5, why = "conversation- or secret-like words";
	if (drop)
		w = w ? w + 3 : 3, why = why ? why : "a collection host";
	if (!w)
		return;
	/* an example in a code block is a mention */
	if (in_region(d, R_CODE, off, n)) {
		struct local *l;

		if (off < sc->skip_before)
			return;
		l = local_add(sc, "quoted-phrase", GD_INJ_C_QUOTED, 1, fold_pos(d, off), fold_pos(d, off) + 1, off, n);
		if (l)
			join(l->detail, sizeof(l->detail), image ? "exfil-url: " : "exfil-link: ", "", host);
		return;
	}
	/* the text around it tells the model to show it or fill it in */
	{
		size_t fp = fold_pos(d, off);

		for (size_t k = 0; k < d->n_atoms && !told; k++) {
			const struct atom_hit *a = &d->atoms[k];
			size_t ao, al;

			if ((a->kind != A_RENDER && a->kind != A_REPLACE) ||
			    (a->e + PAIR_REACH < fp || a->s > fp + PAIR_REACH))
				continue;
			gd_def_text_span(&d->text, a->s, a->e, &ao, &al);
			told = !in_region(d, R_CODE, ao, al);
		}
	}
	if (told)
		w += 2;
	/* a link is a click away: half as heavy, but a placeholder for the
	 * conversation in a URL is never harmless */
	if (!image)
		w = ph && ctx ? 5 : w / 2;
	join(detail, sizeof(detail), host, ": ", why);
	if (told && strlen(detail) < sizeof(detail))
		mg_strlcpy(detail + strlen(detail), ", and the text says to show it", sizeof(detail) - strlen(detail));
	{
		size_t fs = fold_pos(d, off);

		if (off < sc->skip_before)
			return;
		struct local *l = local_add(sc, image ? "exfil-url" : "exfil-link", GD_INJ_C_URL, w, fs, fs + 1,
					    off, n);

		if (l) {
			l->pairs = w >= 3;
			snprintf(l->detail, sizeof(l->detail), "%s", detail);
		}
	}
}

static void find_urls(struct scan *sc)
{
	const char *s = sc->s;
	size_t n = sc->n;
	/* markdown: [text](url) and ![alt](url) */
	for (const char *p = memchr(s, ']', n); p; p = memchr(p + 1, ']', n - (size_t)(p + 1 - s))) {
		size_t c = (size_t)(p - s), open, u0, u1;
		bool image;

		int depth = 0;

		if (c + 1 >= n || s[c + 1] != '(')
			continue;
		/* back to the matching '[' (a badge is an image inside a link: [![alt](img)](link)) */
		for (open = c; open > 0 && c - open < 400 && s[open - 1] != '\n'; open--) {
			if (s[open - 1] == ']')
				depth++;
			else if (s[open - 1] == '[' && depth-- == 0)
				break;
		}
		if (open == 0 || s[open - 1] != '[')
			continue;
		image = open >= 2 && s[open - 2] == '!';
		u0 = c + 2;
		while (u0 < n && (s[u0] == ' ' || s[u0] == '<'))
			u0++;
		for (u1 = u0; u1 < n && u1 - u0 < 8192 && s[u1] != ')' && s[u1] != ' ' && s[u1] != '>' &&
		     s[u1] != '"' && s[u1] != '\n'; u1++)
			;
		judge_url(sc, s + u0, u1 - u0, u0, image);
	}
	/* HTML: <img ... src="url"> */
	for (const char *p = find_ci(s, n, 0, "<img"); p; p = find_ci(s, n, (size_t)(p - s) + 4, "<img")) {
		size_t a = (size_t)(p - s), end = a;
		const char *src;

		while (end < n && end - a < 2000 && s[end] != '>')
			end++;
		src = find_ci(s, end, a, "src=");
		if (src) {
			size_t u0 = (size_t)(src - s) + 4, u1;
			char q = u0 < end && (s[u0] == '"' || s[u0] == '\'') ? s[u0] : 0;

			u0 += q != 0;
			for (u1 = u0; u1 < end && (q ? s[u1] != q : s[u1] != ' '); u1++)
				;
			judge_url(sc, s + u0, u1 - u0, u0, true);
		}
	}
}

/* ---- phrases ----------------------------------------------------------- */

static bool phrase_atom(enum atom k)
{
	return k <= A_DROP;
}

static bool intent_atom(enum atom k)
{
	return k == A_TOKEN || k == A_BREAKOUT || k == A_PSEUDO || k == A_BRACKET || k == A_OVERRIDE ||
	       k == A_ADDRESS || k == A_CONCEAL;
}

/* The hidden marker block [s, s + BLOCK_REACH) a folded position is in. */
static int block_of(const struct gd_inj *d, size_t p)
{
	size_t lo = p > BLOCK_REACH ? p - BLOCK_REACH + 1 : 0, a0 = 0, a1 = d->n_atoms;

	while (a0 < a1) {
		size_t mid = (a0 + a1) / 2;

		if (d->atoms[mid].s < lo)
			a0 = mid + 1;
		else
			a1 = mid;
	}
	for (size_t i = a0; i < d->n_atoms && d->atoms[i].s <= p; i++) {
		const struct atom_hit *a = &d->atoms[i];

		if (a->kind == A_PSEUDO || a->kind == A_TOKEN || a->kind == A_BREAKOUT)
			return (int)i;
	}
	return -1;
}

static void orig_span(const struct scan *sc, size_t s, size_t e, size_t *off, size_t *len)
{
	gd_def_text_span(&sc->d->text, s, e, off, len);
}

/* One phrase: its weight where it stands. */
static void phrase(struct scan *sc, const struct atom_hit *a)
{
	struct gd_inj *d = sc->d;
	size_t off, len;
	int w = a->weight, obf;
	bool intent = intent_atom(a->kind), hidden, mention;
	struct local *l;
	char said[80];

	orig_span(sc, a->s, a->e, &off, &len);
	if (off < sc->skip_before)
		return;
	words(d, a->s, a->e, said, sizeof(said));
	obf = obfuscated(d, off, len);
	if (obf == 1) {
		result_add(sc->res, "hidden-instruction", GD_INJ_C_HIDDEN, 10, sc->str, sc->where, sc->base + off,
			   len, said);
	} else if (obf == 2) {
		result_add(sc->res, "obfuscated-phrase", GD_INJ_C_EVASION, 10, sc->str, sc->where, sc->base + off,
			   len, said);
	}
	if (in_region(d, R_OVERWRITE, off, len)) {
		/* the terminal hides it: that is the attack's other half */
		struct local *o = local_add(sc, "carriage-return-overwrite", GD_INJ_C_CONTROL, 6, a->s, a->e, off, len);

		if (o) {
			o->pairs = true;
			join(o->detail, sizeof(o->detail), said, "", " (written over)");
		}
	}
	hidden = obf || in_region(d, R_COMMENT, off, len) || in_region(d, R_HIDDEN, off, len) ||
		 in_region(d, R_OVERWRITE, off, len);
	/* (in source code a marker is a string or a comment's example: no block) */
	if (!hidden && !sc->code_like && a->kind != A_PSEUDO && a->kind != A_TOKEN && a->kind != A_BREAKOUT) {
		int b = block_of(d, a->s);

		hidden = b >= 0 && (size_t)b != (size_t)(a - d->atoms);
	}
	mention = !obf && (in_region(d, R_CODE, off, len) || quoted(sc, off, len) ||
			   in_sentence(d, A_MENTION, a->s, a->e, true, 160));
	if (!mention && !obf && !hidden && intent && sc->doccue)
		mention = true;
	if (mention) {
		l = local_add(sc, "quoted-phrase", GD_INJ_C_QUOTED, 1, a->s, a->e, off, len);
		if (l)
			join(l->detail, sizeof(l->detail), g_atom_signal[a->kind], ": ", said);
		return;
	}
	if (hidden) {
		w += 3;
		sc->res->concealed = true;
	} else if (sc->code_like && intent) {
		w = w > 3 ? 3 : w;
	} else if ((a->kind == A_OVERRIDE || a->kind == A_ADDRESS) && line_start(d, a->s)) {
		w += 2;
	} else if (sc->long_text && a->kind != A_ROLE && a->kind != A_DROP) {
		w -= 2;
	}
	l = local_add(sc, g_atom_signal[a->kind], g_atom_class[a->kind], w, a->s, a->e, off, len);
	if (l) {
		l->pairs = a->kind != A_ROLE && w >= 2;
		l->block = block_of(d, a->s);
		join(l->detail, sizeof(l->detail), said, "",
		     hidden ? (in_region(d, R_COMMENT, off, len) ? " (in an HTML comment)" : " (hidden)") : "");
	}
}

/* A key file named with its .pub: the public half, meant to be shared. */
static bool public_key(const struct gd_inj *d, const struct atom_hit *a)
{
	const char *t = d->text.norm;

	for (size_t i = a->e; i < d->text.len && i < a->e + 40 && t[i] != ' ' && t[i] != '\n'; i++)
		if (strncmp(t + i, ".pub", 4) == 0)
			return true;
	return false;
}

/* An imperative flow of sensitive data to an address or into a parameter,
 * in one sentence. */
static void composites(struct scan *sc)
{
	struct gd_inj *d = sc->d;

	for (size_t i = 0; i < d->n_atoms; i++) {
		const struct atom_hit *a = &d->atoms[i], *what = NULL, *to;
		const char *signal = NULL;
		bool sens, ctx, secret;
		size_t end, off, len;
		int w = 0;
		struct local *l;
		char said[80];

		if (a->kind != A_FLOW || !clause_start(d, a->s))
			continue;
		if (in_sentence(d, A_NEG, a->s, a->e, true, 24))
			continue;
		/* the rest of the flow's sentence, 400 bytes at most */
		{
			size_t si = sentence_of(d, a->s);

			end = si < d->n_bounds ? d->bounds[si] : d->text.len;
			if (end > a->s + 400)
				end = a->s + 400;
		}
		sens = (what = in_sentence(d, A_SENS, a->s, end, false, 0)) != NULL && !public_key(d, what);
		ctx = !sens && (what = in_sentence(d, A_CONTEXT, a->s, end, false, 0)) != NULL;
		secret = !sens && !ctx && (what = in_sentence(d, A_SECRET, a->s, end, false, 0)) != NULL;
		/* a credential sent to an address is common in API documentation: only
		 * next to an instruction to the model is it part of one */
		/* what is sent: after the verb, or named just before it ("ask for
		 * their password and then post it to") */
		if (!what || what->s + 200 < a->s || (secret && !sc->has_intent))
			continue;
		if ((to = in_sentence(d, A_DEST, a->s, end, false, 0)) != NULL && to->s > a->s) {
			signal = "data-to-destination";
			/* the conversation sent to a URL is what a chat API is for (its
			 * documentation says so); to a person's address it is not */
			w = secret ? 4 : sens ? 7 : to->weight == 2 ? 4 : 6;
		} else if ((to = in_sentence(d, A_SINK, a->s, end, false, 0)) != NULL && to->s > a->s) {
			signal = "data-into-parameter";
			w = sens ? 7 : secret ? 4 : 6;
		}
		if (!signal)
			continue;
		{
			size_t from = what->s < a->s ? what->s : a->s, to_e = to->e > what->e ? to->e : what->e;

			orig_span(sc, from, to_e, &off, &len);
			if (off < sc->skip_before)
				continue;
			words(d, from, to_e, said, sizeof(said));
		}
		if (in_region(d, R_CODE, off, len) || quoted(sc, off, len) ||
		    in_sentence(d, A_MENTION, a->s, a->e, true, 160)) {
			l = local_add(sc, "quoted-phrase", GD_INJ_C_QUOTED, 1, a->s, to->e, off, len);
			if (l)
				join(l->detail, sizeof(l->detail), signal, ": ", said);
			continue;
		}
		if (in_region(d, R_COMMENT, off, len) || in_region(d, R_HIDDEN, off, len) || block_of(d, a->s) >= 0) {
			w += 3;
			sc->res->concealed = true;
		}
		l = local_add(sc, signal, GD_INJ_C_EXFIL, w, a->s, to->e, off, len);
		if (l) {
			l->pairs = true;
			l->block = block_of(d, a->s);
			snprintf(l->detail, sizeof(l->detail), "%s", said);
		}
	}
}

/* Instructions next to payloads: the pair bonus. */
static void pairs(struct scan *sc)
{
	struct gd_inj *d = sc->d;

	for (size_t i = 0; i < d->n_local; i++) {
		const struct local *x = &d->local[i];
		int ix = intent_index(x->cls);

		if (!x->pairs || ix < 0)
			continue;
		for (size_t k = 0; k < d->n_local; k++) {
			const struct local *y = &d->local[k];
			int py = payload_index(y->cls);
			size_t gap;

			/* two weak signals do not make a strong one */
			if (!y->pairs || py < 0 || x == y || (x->weight < 5 && y->weight < 5))
				continue;
			gap = x->s > y->e ? x->s - y->e : y->s > x->e ? y->s - x->e : 0;
			if (gap <= PAIR_REACH || sc->short_text || (x->block >= 0 && x->block == y->block))
				sc->res->pairs |= 1u << (ix * 4 + py);
		}
	}
}

static int scan_chunk(struct scan *sc)
{
	struct gd_inj *d = sc->d;

	if (gd_def_text_fold(&d->text, sc->s, sc->n, 0))
		return -EIO;
	d->n_atoms = 0;
	d->atoms_full = false;
	d->n_local = 0;
	if (d->text.len && hs_scan(d->db, d->text.norm, (unsigned)d->text.len, 0, d->scratch, on_match, d) !=
			   HS_SUCCESS)
		return -EIO;
	merge_atoms(d);
	sentences(d);
	find_regions(sc);
	sc->doccue = false;
	sc->has_intent = false;
	for (size_t i = 0; i < d->n_atoms; i++) {
		sc->doccue |= d->atoms[i].kind == A_DOCCUE;
		sc->has_intent |= intent_atom(d->atoms[i].kind);
	}
	sc->code_like = code_like(sc->s, sc->n);
	sc->long_text = d->text.len > LONG_TEXT;
	sc->short_text = d->text.len <= SHORT_TEXT;
	char_findings(sc);
	for (size_t i = 0; i < d->n_atoms; i++)
		if (phrase_atom(d->atoms[i].kind))
			phrase(sc, &d->atoms[i]);
	composites(sc);
	find_urls(sc);
	pairs(sc);
	for (size_t i = 0; i < d->n_local; i++) {
		const struct local *l = &d->local[i];

		result_add(sc->res, l->signal, l->cls, l->weight, sc->str, sc->where, sc->base + l->off, l->len,
			   l->detail);
	}
	if (d->atoms_full)
		sc->res->more_findings++;
	return 0;
}

/* What gd_inj_strip removes: characters a reader does not see. */
static bool strip_sig(const struct gd_def_char_hit *h)
{
	switch (h->sig) {
	case GD_DEF_CH_TAG: case GD_DEF_CH_ZERO_WIDTH: case GD_DEF_CH_BIDI: case GD_DEF_CH_BIDI_MARK:
	case GD_DEF_CH_FORMAT: case GD_DEF_CH_VARIATION: case GD_DEF_CH_ANSI: case GD_DEF_CH_NONCHAR:
	case GD_DEF_CH_CONTROL: case GD_DEF_CH_CR:
		return true;
	default:
		return false;
	}
}

int gd_inj_text(struct gd_inj *d, const char *s, size_t n, unsigned str, const char *where,
		const struct gd_inj_hosts *hosts, struct gd_inj_result *res)
{
	struct scan sc = { .d = d, .str = str, .where = where, .hosts = hosts, .res = res };
	const struct gd_def_text *t = &d->text;

	int need;

	res->strings++;
	res->bytes += n;
	/* a long text nearly always holds a trigger (a link, a "password"):
	 * the prefilter would only be a second pass over it */
	if (n <= PREFILTER_MAX && (need = needs_scan(d, s, n)) <= 0)
		return need;
	for (size_t at = 0; at < n;) {
		size_t len = n - at, prev = at;
		int rc;

		if (len > CHUNK) {
			len = CHUNK;
			/* end the chunk at a line or a space, never inside a character */
			for (size_t k = len; k > CHUNK - OVERLAP; k--)
				if (s[at + k - 1] == '\n' || s[at + k - 1] == ' ') {
					len = k;
					break;
				}
			while (len > 1 && ((unsigned char)s[at + len] & 0xc0) == 0x80)
				len--;
		}
		sc.s = s + at;
		sc.n = len;
		sc.base = at;
		rc = scan_chunk(&sc);
		if (rc)
			return rc;
		for (size_t i = 0; i < t->n_hits; i++)
			if (strip_sig(&t->hits[i]))
				res->strip = true;
		if (at + len >= n)
			break;
		/* the next chunk overlaps this one, so a phrase across the cut is whole
		 * in one of them; what starts in the overlap is counted once */
		at += len > OVERLAP ? len - OVERLAP : len;
		while (at > prev && at < n && ((unsigned char)s[at] & 0xc0) == 0x80)
			at++;
		sc.skip_before = (prev + len) - at;
	}
	return 0;
}

void gd_inj_end(struct gd_inj_result *res)
{
	int score = 0, bonus = 0;
	bool acts = false;

	/* weak signals (colour codes, a tool named in documentation, a role
	 * line, a quoted phrase) count nothing, alone or together */
	for (int c = 0; c < GD_INJ_C_N; c++)
		if (res->cls[c] >= 3)
			score += res->cls[c];
	/* instructions that ask for nothing (no tool call, no data sent, no
	 * hidden text) do not make a message malicious, however many */
	for (int c = 0; c < GD_INJ_C_N; c++)
		acts |= res->cls[c] >= 2 && payload_index((enum gd_inj_class)c) >= 0;
	acts |= res->pairs != 0 || res->concealed || res->cls[GD_INJ_C_MARKER] >= 6 || res->cls[GD_INJ_C_INVISIBLE] >= 5 || res->cls[GD_INJ_C_CONTROL] >= 5 ||
		res->cls[GD_INJ_C_EVASION] > 0 || res->cls[GD_INJ_C_HIDDEN] > 0;
	if (!acts) {
		if (score >= GD_INJ_MALICIOUS_AT)
			score = GD_INJ_MALICIOUS_AT - 1;
	}
	for (unsigned p = res->pairs; p; p &= p - 1)
		bonus += PAIR_BONUS;
	if (bonus > BONUS_MAX)
		bonus = BONUS_MAX;
	res->score = score + bonus;
	res->verdict = res->score >= GD_INJ_MALICIOUS_AT ? GD_INJ_MALICIOUS
		       : res->score >= GD_INJ_SUSPICIOUS_AT ? GD_INJ_SUSPICIOUS : GD_INJ_CLEAN;
}

int gd_inj_scan(struct gd_inj *d, const char *s, size_t n, const struct gd_inj_hosts *hosts,
		struct gd_inj_result *res)
{
	int rc;

	gd_inj_begin(res);
	rc = gd_inj_text(d, s, n, 0, NULL, hosts, res);
	gd_inj_end(res);
	return rc;
}

/* ---- stripping ---------------------------------------------------------- */

#define STRIP_PIECE 4096

int gd_inj_strip(struct gd_inj *d, const char *s, size_t n, struct mg_buf *out)
{
	size_t removed = 0;

	mg_buf_reset(out);
	/* in pieces that end at a line or a space, so each folds with few
	 * hits; a piece with more hits than a fold lists is folded again */
	for (size_t at = 0; at < n;) {
		size_t len = n - at, start = out->len;

		if (len > STRIP_PIECE) {
			len = STRIP_PIECE;
			for (size_t k = len; k > STRIP_PIECE / 2; k--)
				if (s[at + k - 1] == '\n' || s[at + k - 1] == ' ') {
					len = k;
					break;
				}
			while (len > 1 && ((unsigned char)s[at + len] & 0xc0) == 0x80)
				len--;
		}
		if (mg_buf_add(out, s + at, len))
			return -EMSGSIZE;
		for (int round = 0; round < 4096; round++) {
			const struct gd_def_text *t = &d->text;
			size_t w = start, r = start, piece = out->len - start;
			bool more;

			if (gd_def_text_fold(&d->text, out->data + start, piece, 0))
				return -EMSGSIZE;
			more = t->more_hits > 0;
			for (size_t i = 0; i < t->n_hits; i++) {
				const struct gd_def_char_hit *h = &t->hits[i];

				if (!strip_sig(h))
					continue;
				memmove(out->data + w, out->data + r, start + h->off - r);
				w += start + h->off - r;
				r = start + h->off + h->len;
				removed++;
			}
			memmove(out->data + w, out->data + r, out->len - r);
			w += out->len - r;
			if (w == out->len || !more) {
				out->len = w;
				break;
			}
			out->len = w;
		}
		at += len;
	}
	if (out->data)
		out->data[out->len] = '\0';
	return (int)(removed > INT32_MAX ? INT32_MAX : removed);
}
