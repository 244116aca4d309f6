/* Unsafe libc calls turned into compile errors in every file of the project
 * (forced in with -include by the Makefile).  The standard headers that
 * declare them come first, so that these macros never rewrite a system
 * declaration; any later use in our own code fails to compile.
 * Why each is banned: no bound on the destination (strcpy, strcat, sprintf,
 * vsprintf, gets), silent truncation without NUL (strncpy), hidden global
 * state (strtok), no error reporting (atoi, atol, atoll), races (tmpnam,
 * mktemp). Use snprintf, mg_strlcpy, strtok_r, mg_parse_* instead. */
#ifndef MG_BANNED_H
#define MG_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MG_BANNED(f) sorry_##f##_is_banned_in_mcpguard

#undef strcpy
#define strcpy(...) MG_BANNED(strcpy)
#undef strcat
#define strcat(...) MG_BANNED(strcat)
#undef strncpy
#define strncpy(...) MG_BANNED(strncpy)
#undef sprintf
#define sprintf(...) MG_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) MG_BANNED(vsprintf)
#undef gets
#define gets(...) MG_BANNED(gets)
#undef strtok
#define strtok(...) MG_BANNED(strtok)
#undef atoi
#define atoi(...) MG_BANNED(atoi)
#undef atol
#define atol(...) MG_BANNED(atol)
#undef atoll
#define atoll(...) MG_BANNED(atoll)
#undef tmpnam
#define tmpnam(...) MG_BANNED(tmpnam)
#undef mktemp
#define mktemp(...) MG_BANNED(mktemp)

#endif
