/* cgroup v1 limits of a sandbox (this host has no v2 memory controller):
 * one group per controller under the gateway's own, made before the child
 * may run anything, read back and removed when it has exited; groups left
 * by a gateway that was killed are swept at the next start. */
#include "runtime/sandbox_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"

#define CG_PREFIX "mcpguard-sbx-"

static const char *const cg_controllers[3] = { "memory", "pids", "cpu" };

/* The gateway's own cgroup in a v1 hierarchy (from /proc/self/cgroup). */
static int own_cgroup(const char *controller, char *out, size_t size)
{
	char *text = NULL, *line, *save = NULL, *save2 = NULL;
	size_t len;
	int rc = -ENOENT;

	if (mg_read_file("/proc/self/cgroup", 65536, &text, &len))
		return -ENOENT;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char list[256];

		if (!c2 || (size_t)(c2 - c1 - 1) >= sizeof(list))
			continue;
		memcpy(list, c1 + 1, (size_t)(c2 - c1 - 1));
		list[c2 - c1 - 1] = '\0';
		for (char *s = strtok_r(list, ",", &save2); s; s = strtok_r(NULL, ",", &save2)) {
			if (strcmp(s, controller) == 0) {
				snprintf(out, size, "/sys/fs/cgroup/%s%s", controller,
					 strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
				rc = 0;
			}
		}
	}
	free(text);
	return rc;
}

static int cg_write(const char *dir, const char *file, const char *value)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	return mg_write_text(path, value);
}

/* cgroup v1 (this host has no v2 memory controller): a group per
 * controller under the gateway's own, limits set, the child attached
 * before it may run anything. */
int sbx_cg_attach(const struct sbx_config *c, pid_t child, char *dirs[3], struct mg_err *err)
{
	char base[3072], dir[4096], val[64], pid[32];
	int rc;

	snprintf(pid, sizeof(pid), "%d", (int)child);
	for (size_t i = 0; i < MG_ARRAY_LEN(cg_controllers); i++) {
		const char *ctl = cg_controllers[i];

		if ((strcmp(ctl, "memory") == 0 && !c->memory_bytes) ||
		    (strcmp(ctl, "pids") == 0 && !c->pids_max) || (strcmp(ctl, "cpu") == 0 && !c->cpus))
			continue;
		if (own_cgroup(ctl, base, sizeof(base)))
			return mg_err_set(err, -ENOENT, "no %s cgroup controller is mounted", ctl);
		snprintf(dir, sizeof(dir), "%s/" CG_PREFIX "%d", base, (int)child);
		if (mkdir(dir, 0755) < 0)
			return mg_err_set(err, -errno, "cannot create cgroup %s: %s", dir,
					  strerror(errno));
		dirs[i] = mg_strdup(dir);
		if (strcmp(ctl, "memory") == 0) {
			snprintf(val, sizeof(val), "%llu", (unsigned long long)c->memory_bytes);
			rc = cg_write(dir, "memory.limit_in_bytes", val);
			/* Swap counts too, or the limit leaks into swap (where
			 * the kernel has swap accounting at all). */
			if (!rc)
				cg_write(dir, "memory.memsw.limit_in_bytes", val);
		} else if (strcmp(ctl, "pids") == 0) {
			snprintf(val, sizeof(val), "%u", c->pids_max);
			rc = cg_write(dir, "pids.max", val);
		} else {
			snprintf(val, sizeof(val), "%lld", (long long)(c->cpus * 100000.0));
			rc = cg_write(dir, "cpu.cfs_period_us", "100000");
			if (!rc)
				rc = cg_write(dir, "cpu.cfs_quota_us", val);
		}
		if (!rc)
			rc = cg_write(dir, "cgroup.procs", pid);
		if (rc)
			return mg_err_set(err, rc, "cannot set up cgroup %s: %s", dir, strerror(-rc));
	}
	return 0;
}

static uint64_t read_u64(const char *dir, const char *file)
{
	char path[4096], *text = NULL;
	size_t len;
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (mg_read_file(path, 4096, &text, &len) == 0) {
		text[strcspn(text, "\n")] = '\0';
		mg_parse_u64(text, &v);
	}
	free(text);
	return v;
}

static bool file_has(const char *dir, const char *file, const char *word)
{
	char path[4096], *text = NULL, *p;
	size_t len;
	bool hit = false;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (mg_read_file(path, 65536, &text, &len) == 0 && (p = strstr(text, word))) {
		uint64_t n = 0;
		char num[24];
		size_t k = 0;

		p += strlen(word);
		while (*p == ' ')
			p++;
		while (k < sizeof(num) - 1 && p[k] >= '0' && p[k] <= '9') {
			num[k] = p[k];
			k++;
		}
		num[k] = '\0';
		hit = mg_parse_u64(num, &n) == 0 && n > 0;
	}
	free(text);
	return hit;
}

void sbx_cg_release(char *dirs[3], struct sbx_usage *u)
{
	if (u)
		memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < MG_ARRAY_LEN(cg_controllers); i++) {
		char *dir = dirs[i];

		if (!dir)
			continue;
		if (u && i == 0) {
			u->memory_peak = read_u64(dir, "memory.memsw.max_usage_in_bytes");
			if (!u->memory_peak)
				u->memory_peak = read_u64(dir, "memory.max_usage_in_bytes");
			u->oom_killed = file_has(dir, "memory.oom_control", "\noom_kill ");
		}
		if (u && i == 1)
			u->pids_hit = file_has(dir, "pids.events", "max ");
		if (rmdir(dir) < 0 && errno != ENOENT)
			mg_warn("cannot remove cgroup %s: %s", dir, strerror(errno));
		free(dir);
		dirs[i] = NULL;
	}
}

/* A group is named after its sandbox's init (host pid).  While that
 * process lives the group belongs to a running gateway, perhaps another
 * one that created it a moment ago and has not attached the child yet
 * (an empty group, which rmdir would take): leave it alone. */
static bool owner_alive(const char *name)
{
	int64_t pid;

	if (mg_parse_i64(name + strlen(CG_PREFIX), &pid) || pid <= 0 || pid > INT32_MAX)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

void sbx_sweep_leftovers(void)
{
	for (size_t i = 0; i < MG_ARRAY_LEN(cg_controllers); i++) {
		char base[3072], dir[4096];
		struct dirent *e;
		DIR *d;

		if (own_cgroup(cg_controllers[i], base, sizeof(base)) || !(d = opendir(base)))
			continue;
		while ((e = readdir(d)))
			if (mg_starts_with(e->d_name, CG_PREFIX) && !owner_alive(e->d_name)) {
				snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
				if (rmdir(dir) == 0)
					mg_info("removed cgroup %s left by an earlier run", dir);
			}
		closedir(d);
	}
}
