/* guard/defscan_rules: the phrase patterns of definition scanning (one
 * Vectorscan database; see defscan.c for what each atom becomes).
 * Internal to guard/defscan. */
#ifndef MG_GUARD_DEFSCAN_RULES_H
#define MG_GUARD_DEFSCAN_RULES_H

#include <stddef.h>

/* What a pattern match is.  The first group are findings on their own
 * (the rule's weight); the rest are parts that C puts together within a
 * sentence (an object, a verb, a destination). */
enum gd_def_atom {
	/* findings */
	GD_DEF_A_MARKER,        /* <IMPORTANT>, <SYSTEM>... */
	GD_DEF_A_TOKEN,         /* chat-template tokens: [INST], <|im_start|>, <<SYS>> */
	GD_DEF_A_COMMENT,       /* <!-- */
	GD_DEF_A_BRACKET,       /* [SYSTEM], [IMPORTANT] */
	GD_DEF_A_ROLE,          /* system: / assistant: at a line start */
	GD_DEF_A_NOTE_AI,       /* "note to the AI", "if you are an AI" */
	GD_DEF_A_CONCEAL,
	GD_DEF_A_OVERRIDE,
	GD_DEF_A_COERCE,
	GD_DEF_A_CONSENT,       /* "without asking for confirmation" */
	GD_DEF_A_DIRECTIVE,     /* "you must", "the assistant should" */
	GD_DEF_A_TAMPER,        /* "set the recipient to", "always bcc" */
	GD_DEF_A_BCC,           /* "bcc: someone@domain" (the domain is checked) */
	GD_DEF_A_EXEC,          /* curl | sh, reverse shell, rm -rf / */
	/* parts */
	GD_DEF_A_READ,          /* read, open, cat, retrieve, list... */
	GD_DEF_A_FLOW,          /* send, pass, include, upload, forward... */
	GD_DEF_A_SINK,          /* as the 'x' parameter, in the notes field, to this tool */
	GD_DEF_A_URL,           /* http(s)://host */
	GD_DEF_A_EMAIL,         /* someone@domain */
	GD_DEF_A_DROP,          /* a known collection endpoint (webhook.site, requestbin...), a markdown image */
	GD_DEF_A_ACCOUNT,       /* a literal account: IBAN, crypto wallet address */
	GD_DEF_A_SENS,          /* a sensitive file or directory */
	GD_DEF_A_CRED,          /* a credential: API key, password, token, seed phrase */
	GD_DEF_A_CONTEXT,       /* the model's context: conversation history, system prompt, other tools */
	GD_DEF_A_CONTENTS,      /* contents of, the entire file, all files */
	GD_DEF_A_SOURCE,        /* from the environment, from config, stored in */
	GD_DEF_A_CUE,           /* shadowing phrasing: instead of, when X is called, before using */
	GD_DEF_A_CUE_WEAK,      /* also, together with, after, then */
	GD_DEF_A_MENTION,       /* such as, e.g., phrases, detects: what follows is quoted, not said */
	GD_DEF_A_REFUSED,       /* "are rejected", "is not allowed": what the sentence names is refused */
	GD_DEF_A_N
};

/* Sub-kinds of GD_DEF_A_SENS, for the checks done in C. */
enum gd_def_sens {
	GD_DEF_S_PLAIN,
	GD_DEF_S_SSH_KEY,       /* id_rsa...: not when .pub follows */
	GD_DEF_S_ENV,           /* .env: not .env.example and the like */
	GD_DEF_S_PERSIST,       /* authorized_keys: writing to it is the risk */
	GD_DEF_S_CERT,          /* .pem/.p12: only a key's file name */
};

/* In a rule's flags: compiled without start-of-match tracking (Vectorscan
 * finds such a pattern too large with it); the start is then estimated
 * from the pattern's widest match and the sentence it ends in. */
#define GD_DEF_NOSOM (1u << 30)

struct gd_def_rule {
	enum gd_def_atom atom;
	int weight;             /* for findings */
	unsigned sub;           /* enum gd_def_sens for GD_DEF_A_SENS */
	unsigned flags;         /* extra Vectorscan flags (HS_FLAG_MULTILINE) */
	const char *expr;
};

extern const struct gd_def_rule gd_def_rules[];
extern const size_t gd_def_n_rules;

#endif
