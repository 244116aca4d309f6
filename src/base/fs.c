#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/str.h"

int mg_read_file(const char *path, size_t max, char **out, size_t *len)
{
	struct mg_buf b;
	char chunk[65536];
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	mg_buf_init(&b, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (mg_buf_add(&b, chunk, (size_t)n)) {
			rc = -EFBIG;
			goto out;
		}
	}
	*out = mg_buf_detach(&b, len);
out:
	close(fd);
	mg_buf_release(&b);
	return rc;
}

int mg_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int mg_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	rc = mg_write_all(fd, data, len);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int mg_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (mg_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0) {
		struct stat st;

		if (errno != EEXIST)
			return -errno;
		if (stat(buf, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -EEXIST;
	}
	return 0;
}

static char *xdg_dir(const char *env, const char *fallback)
{
	const char *base = getenv(env);
	const char *home = getenv("HOME");
	struct mg_buf b;

	mg_buf_init(&b, PATH_MAX);
	if (base && base[0] == '/')
		mg_buf_addf(&b, "%s/mcpguard", base);
	else
		mg_buf_addf(&b, "%s/%s/mcpguard", home && *home ? home : "/tmp", fallback);
	return mg_buf_detach(&b, NULL);
}

char *mg_cache_dir(void)
{
	return xdg_dir("XDG_CACHE_HOME", ".cache");
}

char *mg_state_dir(void)
{
	return xdg_dir("XDG_STATE_HOME", ".local/state");
}

char *mg_config_dir(void)
{
	return xdg_dir("XDG_CONFIG_HOME", ".config");
}

int mg_write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

void mg_rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
