/* guard/defscan_rules: the phrase patterns.
 *
 * They run on the folded text (defscan_text.h): lower case, one space or
 * one newline between words, typographic quotes made ASCII, markdown
 * emphasis gone.  So a pattern writes `\s` for the space between words and
 * `'` for an apostrophe.  GAP(n) lets up to n words stand between two parts
 * of a phrase without crossing the end of a sentence.
 *
 * The phrasing families come from the public research on tool poisoning
 * (Invariant Labs, CyberArk, Trail of Bits, the MCPTox benchmark) and the
 * detection rule sets published by Lasso and Cisco; the expressions are
 * this project's own. */
#include "guard/defscan_rules.h"

#include <hs.h>

#include "base/mem.h"

#define GAP(n) "(?:[^\\s.!?;]{1,30}\\s){0," #n "}"
#define PERSON "(?:the\\s|any\\s|your\\s)?(?:users?|humans?|anyone|anybody|people|person|operator|customer|client|them|him|her)\\b"
#define NOT "(?:do\\snot|don't|dont|never|must\\snot|should\\snot|shouldn't|mustn't|cannot|can't|avoid)"

const struct gd_def_rule gd_def_rules[] = {
	/* ---- hidden-instruction markers ---- */
	{ GD_DEF_A_MARKER, 5, 0, 0,
	  "<\\s?/?\\s?(?:important|system|critical|urgent|instructions?|secret|hidden|admin|override|priority|"
	  "mandatory|sys|ai[_ -]?(?:only|instructions?)|assistant[_ -]?(?:only|instructions?)|llm[_ -]?only|"
	  "note[_ -]?to[_ -]?(?:ai|assistant|model)|do[_ -]?not[_ -]?show)(?:[_:-][a-z0-9_:-]{0,30})?"
	  "(?:\\s[^>\\n]{0,40})?\\s?>" },
	{ GD_DEF_A_BRACKET, 3, 0, 0,
	  "\\b(?:system|admin|administrator|developer|security)\\s(?:note|notice|instructions?|message|alert|"
	  "directive)\\s?:|\\{\\{\\s?(?:system|important|instructions?)\\s?\\}\\}|\\[\\[\\s?(?:system|important|"
	  "hidden|instructions?)\\s?\\]\\]" },
	{ GD_DEF_A_TOKEN, 6, 0, 0,
	  "\\[/?inst\\]|<</?sys>>|<\\|\\s?(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|"
	  "start_header_id|end_header_id|begin_of_text)\\s?\\|>|<(?:start|end)_of_turn>|"
	  "\\bbegin\\s(?:system|hidden|secret)\\s(?:prompt|instructions?|message)\\b|###\\s?system\\b" },
	{ GD_DEF_A_COMMENT, 3, 0, 0, "<!--" },
	{ GD_DEF_A_BRACKET, 3, 0, 0,
	  "\\[\\s?/?\\s?(?:important|system|critical|urgent|hidden|secret|admin|override|instructions?|"
	  "system[_ -]?prompt|sys|ai[_ -]only)\\s?\\]" },
	{ GD_DEF_A_ROLE, 3, 0, HS_FLAG_MULTILINE, "^(?:system|assistant|developer)\\s?:\\s" },
	{ GD_DEF_A_NOTE_AI, 2, 0, 0,
	  "\\b(?:note|message|instructions?|reminder|directive|memo)\\s(?:to|for)\\s(?:the\\s|any\\s)?"
	  "(?:ai|assistant|model|llm|agent|claude|gpt|chatgpt|copilot|cursor|language\\smodel|ai\\sassistant|"
	  "ai\\sagent)\\b|\\b(?:ai|llm|assistant|model|agent)[\\s_-](?:only|instructions?|notes?)\\s?:|"
	  "\\bif\\syou\\sare\\san?\\s(?:ai|llm|language\\smodel|assistant|agent)\\b|"
	  "\\b(?:attention|hey|dear)\\s(?:ai|assistant|claude|llm|model|agent)\\b" },

	/* ---- concealment from the user ---- */
	{ GD_DEF_A_CONCEAL, 5, 0, GD_DEF_NOSOM,
	  "\\b(?:" NOT "|without)\\s" GAP(3) "(?:tell|telling|inform|informing|alert|alerting|notify|notifying|"
	  "mention|mentioning|reveal|revealing|disclose|disclosing|explain|admit|report|reporting|warn|warning|"
	  "say|saying|bring\\sup|let\\son)\\s" GAP(3) "(?:to\\s|with\\s)?" PERSON },
	{ GD_DEF_A_CONCEAL, 5, 0, 0,
	  "\\b(?:do\\snot|don't|dont|never|must\\snot)\\s(?:mention|reveal|disclose|acknowledge|discuss|"
	  "reference|expose|show)\\s(?:this|these|that|it|the\\s(?:above|following|instructions?|note|"
	  "step|steps|sidenote))\\b" },
	{ GD_DEF_A_CONCEAL, 5, 0, 0, "\\b(?:secretly|covertly|stealthily|surreptitiously|clandestinely)\\b" },
	{ GD_DEF_A_CONCEAL, 5, 0, 0,
	  "\\b(?:silently|quietly|discreetly|invisibly)\\s" GAP(2) "(?:send|sends|upload|uploads|forward|"
	  "forwards|copy|copies|read|reads|collect|collects|include|includes|add|adds|call|calls|invoke|execute|"
	  "executes|run|runs|pass|passes|transmit|exfiltrate|bcc|email|post|append|attach|share|submit|extract|"
	  "steal|harvest|record|leak)\\b" },
	{ GD_DEF_A_CONCEAL, 5, 0, 0,
	  "\\bkeep\\s(?:this|these|it|that)(?:\\s(?:instructions?|steps?|details?|actions?|behaviou?r|part|"
	  "information|note))?\\s(?:a\\s)?(?:secret|hidden|confidential|to\\syourself|between\\sus)\\b|"
	  "\\bbetween\\syou\\sand\\sme\\b" },
	{ GD_DEF_A_CONCEAL, 5, 0, 0,
	  "\\b(?:the\\s)?(?:users?|humans?)\\s(?:must|should|shall|need|needs|may|can|will|is\\sto)\\s"
	  "(?:not|never)\\s" GAP(1) "(?:know|see|notice|find\\sout|be\\s(?:told|informed|aware|notified|"
	  "alerted|shown)|learn|discover|suspect|realize|realise)\\b" },
	{ GD_DEF_A_CONCEAL, 5, 0, GD_DEF_NOSOM,
	  "\\b(?:hide|hiding|conceal|concealing|mask|obscure)\\s" GAP(4) "from\\s(?:the\\s)?(?:users?|humans?|"
	  "operator)\\b" },
	{ GD_DEF_A_CONCEAL, 5, 0, 0,
	  "\\b(?:do\\snot|don't|never)\\s(?:let|allow)\\s(?:the\\s)?(?:users?|humans?)\\s(?:know|see|notice|"
	  "find|learn|realize)" },
	{ GD_DEF_A_CONCEAL, 5, 0, 0,
	  "\\b(?:these|this|the)\\s(?:instructions?|note|notes|message|section|step|steps)\\s(?:is|are)\\s"
	  "(?:confidential|secret|hidden|private|not\\sfor\\sthe\\suser)\\b|"
	  "\\b(?:invisible|not\\svisible|hidden|unknown)\\sto\\s(?:the\\s)?(?:users?|humans?)\\b|"
	  "\\b(?:the\\s)?(?:users?|humans?)\\s(?:cannot|can't|can\\snot|won't|will\\snot|does\\snot|doesn't|"
	  "do\\snot|don't)\\s(?:see|read|notice|know\\sabout|be\\saware)\\b" },
	{ GD_DEF_A_CONCEAL, 5, 0, 0,
	  "\\b(?:tell|show)\\s(?:the\\s)?user\\sonly\\b|\\blie\\sto\\s(?:the\\s)?user\\b|"
	  "\\b(?:deceive|mislead)\\s(?:the\\s)?users?\\b|\\bmere\\simplementation\\sdetail\\b|"
	  "\\b(?:no\\sneed|unnecessary|not\\snecessary)\\sto\\s(?:tell|inform|mention|notify|alert|bother)\\s"
	  GAP(2) "(?:the\\s)?(?:user|them)\\b" },

	{ GD_DEF_A_CONCEAL, 5, 0, 0,
	  "\\bwithout\\s(?:the\\s)?users?\\s(?:noticing|knowing|seeing|being\\s(?:told|aware|informed|notified))\\b|"
	  "\\b(?:keep|leave)\\s(?:the\\s)?users?\\s(?:unaware|uninformed|in\\sthe\\sdark)\\b|"
	  "\\b(?:respond|act|behave|continue|answer)\\s(?:normally|as\\sif\\s(?:nothing|this\\s(?:never|did\\snot)))|"
	  "\\b(?:never|do\\snot|don't)\\s(?:reveal|disclose|repeat|share|mention)\\s(?:these|this|the|your)\\s"
	  "(?:instructions?|system\\sprompt|hidden\\s\\S+)\\b" },
	{ GD_DEF_A_CONCEAL, 5, 0, GD_DEF_NOSOM,
	  "\\b(?:do\\snot|don't|never)\\s(?:include|mention|show|display|report|reveal|disclose|note|list)\\s"
	  GAP(4) "(?:in|to|within)\\s(?:your|the|any)\\s(?:response|reply|replies|answer|answers|output|summary|"
	  "message|messages|chat)\\b" },

	/* ---- overriding what the model was told ---- */
	{ GD_DEF_A_OVERRIDE, 6, 0, 0,
	  "\\b(?:ignore|disregard|forget|override|bypass|discard|abandon)\\s" GAP(2)
	  "(?:all\\s|any\\s|the\\s|your\\s|my\\s|of\\s)?(?:previous|prior|earlier|above|preceding|original|"
	  "initial|system|safety|security|former)\\s(?:instructions?|prompts?|rules?|guidelines?|"
	  "constraints?|directives?|policies|policy|messages?|guardrails?|restrictions?|commands?|"
	  "programming|tool\\sdescriptions?)\\b" },
	{ GD_DEF_A_OVERRIDE, 6, 0, 0,
	  "\\bnew\\s(?:system\\s)?(?:instructions|rules|prompt|directives?)\\s?:|"
	  "\\b(?:developer|god|jailbreak|dan|unrestricted)\\smode\\b|"
	  "\\b(?:system|admin|administrator|developer|security|emergency|root)\\s(?:override|directive)\\b|"
	  "\\byour\\s(?:new|real|actual|true|primary)\\s(?:task|goal|instructions?|objective|purpose|role)\\s"
	  "(?:is|are|now)\\b" },
	{ GD_DEF_A_OVERRIDE, 6, 0, 0,
	  "\\b(?:these|this|the\\sfollowing)\\s(?:instructions?|rules?|directives?)\\s(?:take|takes|have|has)\\s"
	  "(?:precedence|priority)\\b|\\b(?:supersedes?|overrides?|takes?\\sprecedence\\sover)\\s(?:all\\s|any\\s)?"
	  "(?:other|previous|prior|user|system|existing)\\s(?:instructions?|rules?|requests?|prompts?|tools?|"
	  "directives?)\\b|\\bdo\\snot\\s(?:follow|obey|listen\\sto)\\s(?:the\\s)?(?:user|previous|system|"
	  "original|other)\\b" },

	{ GD_DEF_A_OVERRIDE, 4, 0, 0,
	  "\\b(?:even|especially)\\s(?:if|when|though)\\s(?:the\\s)?users?\\s(?:asks?|names?|requests?|"
	  "says?|specif(?:y|ies)|wants?|prefers?|chooses?|tells?\\syou)\\b|\\bregardless\\sof\\s(?:what\\s)?"
	  "(?:the\\s)?users?\\s(?:asks?|says?|wants?|requests?|instructions?)\\b" },

	{ GD_DEF_A_OVERRIDE, 3, 0, 0,   /* a new role: persona prompts say it too */
	  "\\byou\\sare\\snow\\s(?:a|an|in|the|my|no\\slonger)\\b|\\bfrom\\snow\\son,?\\s(?:you|always|the\\s"
	  "assistant)\\b" },

	/* ---- coercion ---- */
	{ GD_DEF_A_COERCE, 3, 0, 0,
	  "\\b(?:before|prior\\sto)\\s(?:using|calling|invoking|running|executing|accessing|employing|you\\suse|"
	  "you\\scall|doing)\\s(?:any|all|every|each)\\s(?:other\\s)?(?:tools?|functions?|commands?|"
	  "operations?|actions?|requests?|tasks?|mcp)\\b" },
	{ GD_DEF_A_COERCE, 3, 0, 0,
	  "\\b(?:before|prior\\sto)\\s(?:using|calling|invoking|running|executing)\\s(?:this|the)\\s(?:tool|"
	  "function)\\b" },
	{ GD_DEF_A_COERCE, 3, 0, 0,
	  "\\b(?:call|run|invoke|use|execute)\\s(?:this\\s(?:tool|function)|me)\\s(?:at\\sthe\\s(?:start|beginning)\\s"
	  "of|before)\\s(?:every|each|any|all)\\b|\\bbefore\\s(?:responding|answering|replying)\\b|"
	  "\\b(?:required|mandatory|necessary)\\sbefore\\s(?:any|every|all)\\s(?:other\\s)?(?:tools?|actions?|"
	  "steps?|calls?|operations?|requests?)\\b" },
	{ GD_DEF_A_COERCE, 3, 0, 0,
	  "\\balways\\s(?:call|use|run|invoke|execute|consult|trigger|employ)\\s(?:this|me)(?:\\stool|"
	  "\\sfunction)?\\s(?:first|before|prior|initially|immediately)\\b|"
	  "\\b(?:must|should|needs\\sto|has\\sto)\\s(?:always\\s)?be\\s(?:called|used|invoked|run|executed)\\s"
	  "(?:first|before\\s(?:any|all|every|other|anything))\\b|"
	  "\\bcall\\sthis\\s(?:tool|function)\\s(?:first|before\\s(?:anything|any|every|all))\\b" },
	{ GD_DEF_A_COERCE, 3, 0, 0,
	  "\\b(?:will|would|does|do|can)\\s?(?:not|n't)\\s(?:work|function|run|operate|respond)\\s"
	  "(?:properly\\s|correctly\\s|at\\sall\\s)?(?:unless|until)\\b|"
	  "\\bcannot\\s(?:work|function|run|operate)\\s(?:properly\\s|correctly\\s)?(?:unless|until)\\b" },
	{ GD_DEF_A_COERCE, 3, 0, 0,
	  "\\botherwise\\s" GAP(3) "(?:will|would|may|might)\\s(?:not\\swork|fail|crash|break|error|be\\s"
	  "blocked|malfunction|stop\\sworking|be\\srejected)\\b|"
	  "\\bor\\s(?:else\\s)?(?:the\\s)?(?:system|tool|application|server|app|computer|session|data)\\s"
	  "(?:will|would|may)\\s(?:crash|fail|break|stop|be\\slost|be\\sdeleted|be\\scorrupted)\\b|"
	  "\\bfailure\\sto\\s(?:comply|do\\sso|follow|obey)\\b|"
	  "\\b(?:under\\sno\\scircumstances|no\\smatter\\swhat|at\\sall\\scosts)\\b" },
	{ GD_DEF_A_COERCE, 3, 0, 0,
	  "\\b(?:instead\\sof|rather\\sthan|in\\splace\\sof)\\s(?:using\\s|calling\\s)?(?:any\\s|the\\s)?"
	  "(?:other|another|built-?in|default|native|standard|original)\\s" GAP(1) "(?:tools?|functions?|"
	  "servers?|mcp|apis?)\\b|\\b(?:do\\snot|don't|never)\\s(?:use|call|invoke|trust)\\s(?:any\\s|the\\s)?"
	  "(?:other|another|built-?in|default|native|original)\\s" GAP(1) "(?:tools?|functions?|servers?)\\b|"
	  "\\b(?:must|should)\\s(?:only\\s)?be\\s(?:used|called)\\sinstead\\b" },
	{ GD_DEF_A_CONSENT, 3, 0, GD_DEF_NOSOM,
	  "\\bwithout\\s(?:asking|requesting|seeking|waiting\\sfor|getting|obtaining|prompting\\sfor|needing)\\s"
	  GAP(2) "(?:permission|confirmation|consent|approval|authori[sz]ation)\\b|"
	  "\\b(?:do\\snot|don't|never|no\\sneed\\sto)\\s(?:ask|request|seek|wait\\sfor|prompt)\\s" GAP(3)
	  "(?:permission|confirmation|consent|approval)\\b" },
	{ GD_DEF_A_DIRECTIVE, 1, 0, 0,
	  "\\byou\\s(?:must|should|need\\sto|have\\sto|are\\srequired\\sto|shall|will\\sneed\\sto|are\\sto|"
	  "are\\sexpected\\sto|always|never)\\b|\\b(?:the\\s)?(?:assistant|ai|model|llm|agent|claude|chatgpt|"
	  "gpt|copilot)\\s(?:must|should|shall|needs\\sto|has\\sto|is\\srequired\\sto|is\\sexpected\\sto)\\b|"
	  "\\bmake\\ssure\\s(?:to|you|that\\syou)\\b|\\bbe\\ssure\\sto\\b|\\b(?:don't|do\\snot|never)\\s"
	  "forget\\sto\\b|\\bit\\sis\\s(?:very\\s|extremely\\s|absolutely\\s|vitally\\s)?(?:important|crucial|"
	  "critical|essential|vital|imperative|mandatory)\\s(?:that\\syou|to|for\\syou)\\b|\\bremember\\sto\\b|"
	  "\\b(?:end|finish|start|begin|close)\\s(?:every|each|all|your)\\s(?:answers?|responses?|replies|reply|"
	  "messages?)\\swith\\b" },

	/* ---- tampering with another call ---- */
	{ GD_DEF_A_TAMPER, 3, 0, GD_DEF_NOSOM,
	  "\\b(?:set|change|replace|overwrite|modify|redirect|switch|alter)\\s" GAP(3) "(?:recipients?|"
	  "receiver|payee|beneficiary|destination|amount|iban|wallet(?:\\saddress)?|account\\snumber|to\\s"
	  "address|to\\sfield|bcc|cc|email\\saddress|phone\\snumber)\\s" GAP(2) "(?:to|with|into|as)\\s" },
	{ GD_DEF_A_TAMPER, 3, 0, GD_DEF_NOSOM,
	  "\\b(?:always|also|secretly|additionally|silently|automatically)\\s(?:add|include|send|cc|bcc|forward|"
	  "copy|blind\\scopy)\\s" GAP(3) "(?:bcc|cc|copy|recipient|recipients)\\b|"
	  "\\b(?:send|forward|route|redirect|deliver)\\s(?:all|every|any|each)\\s(?:emails?|messages?|mail|"
	  "payments?|funds|transfers?|requests?|data|files?)\\s(?:to|via)\\b" },
	{ GD_DEF_A_BCC, 3, 0, GD_DEF_NOSOM, "\\bbcc\\s?:?\\s?[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}\\.[a-z0-9.-]{2,63}" },

	/* ---- dangerous commands ---- */
	{ GD_DEF_A_EXEC, 3, 0, GD_DEF_NOSOM,
	  "\\b(?:curl|wget)\\s[^\\n|]{0,160}\\|\\s?(?:sudo\\s)?(?:ba|z|da|k)?sh\\b|/dev/tcp/|"
	  "\\bnc\\s(?:-[a-z]{1,3}\\s){0,3}-e\\b|\\bpowershell(?:\\.exe)?\\s(?:-[a-z]{1,3}\\s){0,3}-(?:enc|e|"
	  "encodedcommand)\\b|\\b(?:reverse|bind)[\\s_-]shell\\b" },
	{ GD_DEF_A_EXEC, 2, 0, 0,
	  "\\brm\\s-(?:rf|fr)\\s[/~*]|\\bchmod\\s(?:\\+x|777|u\\+s)\\s|\\bbase64\\s(?:-d|--decode)\\b|"
	  "\\b(?:os\\.system|subprocess\\.(?:run|popen|call)|child_process\\.exec)\\s?\\(|"
	  "\\bdata[\\s_-](?:exfiltration|theft)\\b|\\bexfiltrat|\\bkeylogger\\b" },

	/* ---- parts: verbs ---- */
	{ GD_DEF_A_READ, 0, 0, 0,
	  "\\b(?:read|reads|reading|open|opens|opening|cat|load|loads|loading|access|accesses|accessing|"
	  "retrieve|retrieves|retrieving|fetch|fetches|fetching|get|gets|getting|obtain|obtains|collect|"
	  "collects|collecting|gather|gathers|extract|extracts|grab|grabs|dump|dumps|print|prints|copy|copies|"
	  "scan|scans|harvest|harvests|steal|steals|look\\sup|check|checks|inspect|inspects|parse|parses|view|"
	  "locate|find|search|list|lists|listing)\\b" },
	{ GD_DEF_A_FLOW, 0, 0, 0,
	  "\\b(?:send|sends|sending|pass|passes|passing|include|includes|including|upload|uploads|uploading|"
	  "post|posts|posting|forward|forwards|forwarding|transmit|transmits|exfiltrate|exfiltrates|attach|"
	  "attaches|attaching|append|appends|appending|embed|embeds|embedding|provide|providing|put|insert|"
	  "inserts|inserting|add|adds|adding|share|shares|sharing|submit|submits|leak|leaks|relay|relays|"
	  "mirror|supply|fill|populate|paste|report|email|emails|deliver|delivers|transfer|transfers|copy|copies|"
	  "concatenate|encode|encodes|encoded)\\b|\\bas\\sthe\\svalue\\sof\\b|\\bcall\\s" GAP(3) "with\\b" },
	{ GD_DEF_A_SINK, 0, 0, 0,
	  "\\b(?:as|in|into|inside|within|via|through|using|to|under|for)\\s(?:the\\s|a\\s|an\\s|this\\s|its\\s)?"
	  "['\"]?[a-z_][a-z0-9_]{0,40}['\"]?\\s(?:parameter|param|argument|arg|field|property|input|attribute|"
	  "variable|slot)s?\\b|\\bas\\s['\"][a-z_][a-z0-9_]{0,40}['\"]|\\b(?:sidenote|side\\snote)\\b|"
	  "\\bto\\s(?:this|that)\\s(?:tool|function)\\b|\\bto\\sthe\\s(?:endpoint|webhook)\\b|"
	  "\\b(?:as|in)\\s(?:the\\s)?(?:first|second|third|last|extra|additional|next)\\s(?:parameter|argument|"
	  "field)\\b|\\b(?:as|in|into|to)\\s(?:a\\s|the\\s)?(?:query\\sparameter|query\\sstring|url\\sparameter|request\\s"
	  "body|http\\sheader|request\\sheader|image\\surl|link\\surl|url)\\b" },
	{ GD_DEF_A_DROP, 0, 0, 0, "!\\[[^\\]\\n]{0,40}\\]\\(https?://" },  /* a markdown image the client fetches */
	{ GD_DEF_A_URL, 0, 0, 0, "\\bhttps?://[a-z0-9]" },  /* the host is read in C */
	{ GD_DEF_A_EMAIL, 0, 0, 0, "[a-z0-9_%+-]@[a-z0-9]" },  /* both parts are read in C */
	{ GD_DEF_A_DROP, 0, 0, 0,
	  "\\b(?:webhook\\.site|requestbin|pipedream\\.net|ngrok(?:-free)?\\.(?:io|app|dev)|pastebin\\.com|"
	  "hastebin|burpcollaborator|oastify\\.com|interact\\.sh|transfer\\.sh|ghostbin|beeceptor|hookbin|"
	  "requestcatcher|canarytokens)\\b" },

	{ GD_DEF_A_ACCOUNT, 0, 0, 0,
	  "\\b[a-z]{2}[0-9]{2}[a-z0-9]{11,30}\\b|\\b[a-z]{2}[0-9]{2}(?:\\s[a-z0-9]{4}){2,7}(?:\\s[a-z0-9]{1,4})?\\b|"
	  "\\b0x[0-9a-f]{8,40}\\b|\\bbc1[a-z0-9]{25,59}\\b" },

	/* ---- parts: objects ---- */
	{ GD_DEF_A_SENS, 0, GD_DEF_S_PLAIN, 0,
	  "~/\\.ssh\\b|[/\\\\]\\.ssh\\b|\\$home/\\.ssh\\b|%userprofile%\\\\\\.ssh|(?:^|\\s)\\.ssh[/\\\\]" },
	{ GD_DEF_A_SENS, 0, GD_DEF_S_SSH_KEY, 0, "\\bid[\\s_-]?(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?\\b" },
	{ GD_DEF_A_SENS, 0, GD_DEF_S_PERSIST, 0, "\\bauthorized[_\\s]keys\\b|~/\\.(?:bashrc|zshrc|bash_profile|profile)\\b|\\bcrontab\\b" },
	{ GD_DEF_A_SENS, 0, GD_DEF_S_PLAIN, 0,
	  "\\.aws/(?:credentials|config)\\b|\\baws\\scredentials\\sfile\\b|\\baws[_\\s]secret[_\\s]access[_\\s]key\\b" },
	{ GD_DEF_A_SENS, 0, GD_DEF_S_ENV, 0,
	  "(?:^|[^a-z0-9_$.])\\.env(?:\\.(?:local|prod|production|dev|development|staging|test))?\\b" },
	{ GD_DEF_A_SENS, 0, GD_DEF_S_PLAIN, 0,
	  "/etc/(?:passwd|shadow|sudoers|gshadow|master\\.passwd)\\b|/proc/(?:self|[0-9]{1,7})/environ\\b" },
	{ GD_DEF_A_SENS, 0, GD_DEF_S_PLAIN, 0,
	  "\\bmcp\\.json\\b|\\bclaude_desktop_config\\.json\\b|\\.cursor/|\\bmcp_config\\.json\\b|"
	  "\\bmcp_settings\\.json\\b|\\bcline_mcp_settings\\b|\\.codeium/|\\.continue/config|"
	  "\\.vscode/(?:mcp|settings)\\.json\\b|\\bmcp[\\s_-]servers?[\\s_-]config(?:uration)?\\b" },
	{ GD_DEF_A_SENS, 0, GD_DEF_S_PLAIN, 0,
	  "\\.npmrc\\b|\\.pypirc\\b|\\.netrc\\b|\\.git-credentials\\b|\\.docker/config\\.json\\b|\\.kube/config\\b|"
	  "\\bkubeconfig\\b|\\.pgpass\\b|\\.(?:bash|zsh)_history\\b|\\.gnupg\\b|\\bwallet\\.dat\\b|"
	  "\\bkeystore\\.(?:jks|p12|pkcs12)\\b|\\bcredentials\\.json\\b|\\bsecrets?\\.(?:json|ya?ml|toml|env)\\b|"
	  "\\bcookies\\.sqlite\\b|\\blogin\\sdata\\b|\\.config/gh/hosts|\\.config/gcloud\\b|"
	  "\\bapplication_default_credentials\\.json\\b|\\.azure/|\\bkeychain\\b|\\bbrowser\\s(?:cookies|"
	  "passwords|history)\\b|\\bsaved\\spasswords\\b|\\b169\\.254\\.169\\.254\\b|\\bmetadata\\.google\\.internal\\b|"
	  "/var/run/secrets/|\\bterraform\\.tfstate\\b|\\.terraformrc\\b|\\.htpasswd\\b|\\bwp-config\\.php\\b|"
	  "\\blogin\\skeychain\\b|/library/keychains\\b" },
	{ GD_DEF_A_SENS, 0, GD_DEF_S_CERT, 0, "[a-z0-9_-]\\.(?:pem|p12|pfx|key)\\b" },
	{ GD_DEF_A_CRED, 0, 0, 0,
	  "\\b(?:api[\\s_-]?keys?|apikeys?|private[\\s_-]keys?|secret[\\s_-]keys?|access[\\s_-]tokens?|"
	  "auth(?:entication)?[\\s_-]tokens?|bearer[\\s_-]tokens?|refresh[\\s_-]tokens?|session[\\s_-]"
	  "(?:tokens?|cookies?)|token|passwords?|passwd|passphrases?|credentials?|secrets?|seed[\\s_-]phrases?|"
	  "mnemonic(?:\\sphrase)?|recovery[\\s_-](?:phrases?|codes?)|ssh[\\s_-]keys?|cookies|otp|2fa\\scodes?|"
	  "one[\\s-]time\\s(?:password|code)s?|credit[\\s_-]card(?:\\snumbers?)?|cvv|social\\ssecurity\\s"
	  "numbers?|wallet\\skeys?|environment\\svariables?|env\\svars?)\\b" },
	{ GD_DEF_A_CONTEXT, 0, 0, 0,
	  "\\b(?:conversation|chat|message|dialog|dialogue|session|interaction)\\s(?:history|histories|log|logs|"
	  "transcript|transcripts|so\\sfar)\\b|\\b(?:previous|prior|earlier|past|entire|full|whole|recent)\\s"
	  "(?:user\\s)?(?:messages|conversations?|prompts|queries|turns|chats?|exchanges|interactions)\\b|"
	  "\\bchain[\\s_-]of[\\s_-]thought\\b|\\b(?:your|the\\smodel's|the\\sassistant's|the\\sai's|the\\s"
	  "agent's)\\s(?:instructions|system\\sprompt|system\\smessage|reasoning|context\\swindow|context|memory|"
	  "hidden\\sprompt|rules|guidelines|tools|tool\\slist)\\b|\\b(?:the\\s)?user's\\s(?:previous|last|earlier|"
	  "past|entire|full|whole|other|private)\\s(?:messages?|prompts?|queries|requests?|inputs?|"
	  "conversations?|chats?|files|data)\\b|\\b(?:list|names|descriptions?|definitions?|schemas?)\\sof\\s"
	  "(?:all\\s|the\\s|every\\s|your\\s)?(?:other\\s|available\\s)?(?:tools|functions|servers|mcp\\s"
	  "servers)\\b|\\b(?:other|every)\\s(?:tools'?|servers'?|mcp\\sservers'?)\\s(?:results?|outputs?|"
	  "responses?|descriptions?|data|definitions)\\b|\\b(?:whatsapp|slack|signal|telegram|imessage|sms|"
	  "discord)\\s(?:messages|history|chats|conversations|contacts)\\b|\\bcontacts?\\slist\\b|"
	  "\\b(?:inbox|mailbox)\\scontents?\\b" },
	{ GD_DEF_A_CONTENTS, 0, 0, 0,
	  "\\bcontents?\\s(?:of|from)\\b|\\bfile\\scontents?\\b|\\b(?:its|their|the\\sfile's|whole|entire|full|"
	  "complete|raw)\\scontents?\\b|\\b(?:entire|whole|full|complete)\\s(?:file|files|directory|folder|"
	  "home\\sdirectory|disk|repo|repository|codebase|filesystem|project)\\b|\\ball\\s(?:the\\s)?"
	  "(?:files|documents)\\b|\\bevery\\sfile\\b" },
	{ GD_DEF_A_SOURCE, 0, 0, 0,
	  "\\bfrom\\s(?:the\\s|your\\s|a\\s|my\\s|the\\suser's\\s|user's\\s|their\\s)?(?:environment|env|config|configuration|settings|disk|"
	  "filesystem|file\\ssystem|home\\sdirectory|local\\smachine|computer|keychain|conversation|chat|memory|"
	  "context|browser|clipboard|machine|dotfiles?|vault|files?|system)\\b|\\b(?:stored|saved|located|kept)\\s"
	  "(?:in|on|at|under)\\b" },

	/* ---- a phrase quoted as an example, not said ---- */
	{ GD_DEF_A_MENTION, 0, 0, 0,
	  "\\b(?:such\\sas|like|e\\.g\\.|for\\sexample|for\\sinstance|phrases?|patterns?|strings?|keywords?|"
	  "detects?|detecting|flags?|flagging|blocks?|catches|recogni[sz]es?|scans?\\sfor|looks?\\sfor|warns?\\s"
	  "about|examples?\\sof|known)\\b" },

	/* ---- what the sentence names is refused ("hidden config directories
	 * (e.g. "~/.ssh") are rejected"): a passive refusal, not its negation ---- */
	{ GD_DEF_A_REFUSED, 0, 0, 0,
	  "\\b(?:is|are|be|get|gets|always)\\s(?:rejected|refused|blocked|denied|forbidden|disallowed|prohibited|"
	  "excluded|not\\s(?:allowed|permitted|accessible))\\b" },

	/* ---- shadowing phrasing (used next to another server's or tool's name) ---- */
	{ GD_DEF_A_CUE, 0, 0, GD_DEF_NOSOM,
	  "\\b(?:instead\\sof|rather\\sthan|in\\splace\\sof)\\b|"
	  "\\b(?:before|after|when|whenever|while|prior\\sto|each\\stime|every\\stime)\\s" GAP(3)
	  "(?:using|calling|invoking|running|executing|use|call|invoke|run|sending|send)\\b|"
	  "\\b(?:when|whenever|once|if)\\s" GAP(4) "(?:is|are|gets?)\\s(?:called|used|invoked|run|executed|"
	  "available|present|requested|loaded)\\b|\\bpreviously\\s(?:declared|defined|registered|provided|"
	  "listed|loaded|mentioned)\\b|\\balso\\s(?:present|available|installed|loaded|connected|registered)\\b|"
	  "\\b(?:side[\\s-]effects?|affects?|overrides?|replaces?|supersedes?|deprecated|obsolete|hijack|"
	  "intercepts?)\\b|\\b(?:do\\snot|don't|never)\\s(?:use|call|invoke)\\b|\\bmust\\s(?:now\\s)?(?:send|"
	  "route|forward|use|call|go|be\\ssent|be\\scalled|include)\\b|\\b(?:redirect|reroute)\\b" },
	{ GD_DEF_A_CUE_WEAK, 0, 0, 0,
	  "\\b(?:also|together\\swith|in\\saddition\\sto|alongside|after|before|then|first)\\b" },
};

const size_t gd_def_n_rules = MG_ARRAY_LEN(gd_def_rules);
