/* File helpers: capped reads, atomic writes, directory creation, and the
 * per-user state and cache directories. */
#ifndef MG_FS_H
#define MG_FS_H

#include <stddef.h>
#include <sys/types.h>

/* Read a whole file of at most max bytes.  Caller frees *out (NUL-terminated).
 * 0, -EFBIG when larger than max, or -errno. */
int mg_read_file(const char *path, size_t max, char **out, size_t *len);
/* Write via a temporary file in the same directory and rename(2), so that
 * readers never see a half-written file.  0 or -errno. */
int mg_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* mkdir -p with the given mode for created components.  0 or -errno. */
int mg_mkdir_p(const char *path, mode_t mode);
/* $XDG_CACHE_HOME/mcpguard or ~/.cache/mcpguard (and XDG_STATE_HOME /
 * ~/.local/state/mcpguard).  Caller frees. */
char *mg_cache_dir(void);
char *mg_state_dir(void);
/* $XDG_CONFIG_HOME/mcpguard or ~/.config/mcpguard.  Caller frees. */
char *mg_config_dir(void);
/* rm -rf, without following symlinks; errors are ignored. */
void mg_rm_rf(const char *path);
/* Write a short text to an existing file (procfs, cgroupfs): one write,
 * no create, no truncate.  0 or -errno. */
int mg_write_text(const char *path, const char *text);
/* Full write loop for blocking fds.  0 or -errno. */
int mg_write_all(int fd, const void *data, size_t len);

#endif
