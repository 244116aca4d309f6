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

#endif
