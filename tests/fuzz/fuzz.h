/* Shared by the fuzz harnesses: the libFuzzer entry point and an
 * invariant check that aborts (libFuzzer reports it as a crash). */
#ifndef MG_FUZZ_H
#define MG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "check failed: %s (%s:%d)\n", #c, __FILE__,    \
				__LINE__);                                             \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* The size of the next feed from 8 fuzzer-chosen bytes, at most 31 and
 * at most left: zero-length feeds are allowed, but not forever (one in
 * each round of 8 is at least 1). */
static inline size_t fuzz_chunk(const uint8_t chunks[8], size_t *k, size_t left)
{
	size_t n = chunks[*k % 8] % 32;

	if (n == 0 && *k % 8 == 7)
		n = 1;
	(*k)++;
	return n > left ? left : n;
}

#endif
