/* catalog/secrets: the encrypted secret store (see secrets.h). */
#include "catalog/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/mem.h"
#include "json/jx.h"

#define MAGIC "MGSECRETS1\n"
#define MAGIC_LEN 11
#define SALT_LEN crypto_pwhash_SALTBYTES
#define HEAD_LEN (MAGIC_LEN + 1 + SALT_LEN + crypto_secretbox_NONCEBYTES)
#define STORE_MAX (16u << 20)
#define PASS_ENV "MCPGUARD_SECRETS_PASSPHRASE"

struct sec_store {
	char *dir, *file, *keyfile;
	char kdf;                       /* 'K' key file, 'P' passphrase */
	unsigned char salt[SALT_LEN];
	unsigned char key[crypto_secretbox_KEYBYTES];
	struct sec_entry *e;
	size_t n;
};

bool sec_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 128 || !((name[0] >= 'A' && name[0] <= 'Z') ||
				   (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

char *sec_store_default_dir(void)
{
	return geteuid() == 0 ? mg_strdup("/etc/mcpguard") : mg_config_dir();
}

static char *join(const char *dir, const char *name)
{
	struct mg_buf b;

	mg_buf_init(&b, PATH_MAX);
	mg_buf_addf(&b, "%s/%s", dir, name);
	return mg_buf_detach(&b, NULL);
}

static void entries_free(struct sec_store *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->e[i].name);
		sodium_memzero(st->e[i].value, st->e[i].len);
		free(st->e[i].value);
	}
	free(st->e);
	st->e = NULL;
	st->n = 0;
}

void sec_store_close(struct sec_store *st)
{
	if (!st)
		return;
	entries_free(st);
	sodium_memzero(st->key, sizeof(st->key));
	free(st->dir);
	free(st->file);
	free(st->keyfile);
	free(st);
}

/* The key: from the key file (made on first use when create), or from
 * the passphrase with the store's salt. */
static int load_key(struct sec_store *st, bool create, struct mg_err *err)
{
	if (st->kdf == 'P') {
		const char *pass = getenv(PASS_ENV);

		if (!pass || !*pass)
			return mg_err_set(err, -EACCES, "the secret store %s is protected by a passphrase: "
					  "set %s", st->file, PASS_ENV);
		if (crypto_pwhash(st->key, sizeof(st->key), pass, strlen(pass), st->salt,
				  crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
			return mg_err_set(err, -ENOMEM, "cannot derive the secret store's key (out of memory)");
		return 0;
	}
	int fd = open(st->keyfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT && create) {
		randombytes_buf(st->key, sizeof(st->key));
		fd = open(st->keyfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || mg_write_all(fd, st->key, sizeof(st->key)) < 0 || fsync(fd) < 0) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			return mg_err_set(err, -e, "cannot create the key file %s: %s", st->keyfile,
					  strerror(e));
		}
		close(fd);
		return 0;
	}
	if (fd < 0)
		return mg_err_set(err, -errno, "cannot read the secret store's key file %s: %s",
				  st->keyfile, strerror(errno));
	struct stat sb;
	ssize_t got = -1;

	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
		fprintf(stderr, "mcpguard: warning: the key file %s can be read by others (mode %o)\n",
			st->keyfile, (unsigned)(sb.st_mode & 0777));
	got = read(fd, st->key, sizeof(st->key));
	close(fd);
	if (got != (ssize_t)sizeof(st->key))
		return mg_err_set(err, -EINVAL, "the key file %s is not a key (%zd bytes, want %zu)",
				  st->keyfile, got, sizeof(st->key));
	return 0;
}

static int parse_plain(struct sec_store *st, const char *text, size_t len, struct mg_err *err)
{
	json_error_t je;
	json_t *root = jx_parse(text, len, &je), *secrets;
	const char *name;
	json_t *v;
	int rc = 0;

	secrets = json_object_get(root, "secrets");
	if (!json_is_object(secrets)) {
		rc = mg_err_set(err, -EINVAL, "the secret store %s is damaged (no secrets)", st->file);
		goto out;
	}
	st->e = mg_calloc(json_object_size(secrets) + 1, sizeof(*st->e));
	json_object_foreach(secrets, name, v) {
		const char *b64 = jx_str(v, "value");
		size_t bl = b64 ? strlen(b64) : 0, vl = 0;
		char *val = mg_malloc(bl + 1);

		if (!b64 || sodium_base642bin((unsigned char *)val, bl, b64, bl, NULL, &vl, NULL,
					      sodium_base64_VARIANT_ORIGINAL) != 0) {
			free(val);
			rc = mg_err_set(err, -EINVAL, "the secret store %s is damaged (%s)", st->file, name);
			goto out;
		}
		val[vl] = '\0';
		st->e[st->n++] = (struct sec_entry){ mg_strdup(name), val, vl,
			json_integer_value(json_object_get(v, "created")),
			json_integer_value(json_object_get(v, "updated")) };
	}
out:
	json_decref(root);
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct sec_entry *)a)->name, ((const struct sec_entry *)b)->name);
}

int sec_store_open(struct sec_store **out, const char *dir, bool create, struct mg_err *err)
{
	struct sec_store *st = MG_NEW(struct sec_store);
	char *data = NULL, *plain = NULL;
	size_t len = 0;
	int rc;

	st->dir = mg_strdup(dir);
	st->file = join(dir, "secrets.enc");
	st->keyfile = join(dir, "secrets.key");
	rc = mg_read_file(st->file, STORE_MAX, &data, &len);
	if (rc == -ENOENT) {
		/* a new store: nothing in it until the first set */
		const char *pass = getenv(PASS_ENV);

		st->kdf = pass && *pass ? 'P' : 'K';
		randombytes_buf(st->salt, sizeof(st->salt));
		if (create && (rc = mg_mkdir_p(dir, 0700))) {
			rc = mg_err_set(err, rc, "cannot create %s: %s", dir, strerror(-rc));
			goto out;
		}
		rc = create || st->kdf == 'P' ? load_key(st, create, err) : 0;
		goto out;
	}
	if (rc) {
		rc = mg_err_set(err, rc, "cannot read the secret store %s: %s", st->file, strerror(-rc));
		goto out;
	}
	if (len < HEAD_LEN + crypto_secretbox_MACBYTES || memcmp(data, MAGIC, MAGIC_LEN) != 0 ||
	    (data[MAGIC_LEN] != 'K' && data[MAGIC_LEN] != 'P')) {
		rc = mg_err_set(err, -EINVAL, "%s is not a mcpguard secret store", st->file);
		goto out;
	}
	st->kdf = data[MAGIC_LEN];
	memcpy(st->salt, data + MAGIC_LEN + 1, SALT_LEN);
	if ((rc = load_key(st, false, err)))
		goto out;
	size_t clen = len - HEAD_LEN, plen = clen - crypto_secretbox_MACBYTES;

	plain = mg_malloc(plen + 1);
	if (crypto_secretbox_open_easy((unsigned char *)plain, (const unsigned char *)data + HEAD_LEN,
				       clen, (const unsigned char *)data + MAGIC_LEN + 1 + SALT_LEN,
				       st->key) != 0) {
		rc = mg_err_set(err, -EACCES, "cannot open the secret store %s: wrong %s, or the file "
				"was changed", st->file, st->kdf == 'P' ? "passphrase (" PASS_ENV ")"
				: "key (secrets.key)");
		goto out;
	}
	plain[plen] = '\0';
	rc = parse_plain(st, plain, plen, err);
	sodium_memzero(plain, plen);
	if (!rc && st->n > 1)
		qsort(st->e, st->n, sizeof(*st->e), cmp_entry);
out:
	free(data);
	free(plain);
	if (rc) {
		sec_store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

static int save(struct sec_store *st, struct mg_err *err)
{
	json_t *root = json_object(), *secrets = json_object();
	struct mg_buf plain, file;
	unsigned char nonce[crypto_secretbox_NONCEBYTES];
	int rc;

	json_object_set_new(root, "version", json_integer(1));
	for (size_t i = 0; i < st->n; i++) {
		size_t bl = sodium_base64_encoded_len(st->e[i].len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = mg_malloc(bl);

		sodium_bin2base64(b64, bl, (const unsigned char *)st->e[i].value, st->e[i].len,
				  sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(secrets, st->e[i].name,
				    json_pack("{sssIsI}", "value", b64, "created", (json_int_t)st->e[i].created,
					      "updated", (json_int_t)st->e[i].updated));
		sodium_memzero(b64, bl);
		free(b64);
	}
	json_object_set_new(root, "secrets", secrets);
	mg_buf_init(&plain, STORE_MAX);
	mg_buf_init(&file, STORE_MAX + HEAD_LEN + crypto_secretbox_MACBYTES);
	rc = jx_dump_buf(root, &plain);
	json_decref(root);
	if (rc == 0)
		rc = mg_buf_reserve(&file, HEAD_LEN + plain.len + crypto_secretbox_MACBYTES);
	if (rc) {
		rc = mg_err_set(err, -EFBIG, "the secret store would be larger than %u bytes", STORE_MAX);
		goto out;
	}
	randombytes_buf(nonce, sizeof(nonce));
	memcpy(file.data, MAGIC, MAGIC_LEN);
	file.data[MAGIC_LEN] = st->kdf;
	memcpy(file.data + MAGIC_LEN + 1, st->salt, SALT_LEN);
	memcpy(file.data + MAGIC_LEN + 1 + SALT_LEN, nonce, sizeof(nonce));
	crypto_secretbox_easy((unsigned char *)file.data + HEAD_LEN, (const unsigned char *)plain.data,
			      plain.len, nonce, st->key);
	file.len = HEAD_LEN + plain.len + crypto_secretbox_MACBYTES;
	if ((rc = mg_mkdir_p(st->dir, 0700)) == 0)
		rc = mg_write_file_atomic(st->file, file.data, file.len, 0600);
	if (rc)
		rc = mg_err_set(err, rc, "cannot write the secret store %s: %s", st->file, strerror(-rc));
out:
	if (plain.data)
		sodium_memzero(plain.data, plain.len);
	mg_buf_release(&plain);
	mg_buf_release(&file);
	return rc;
}

int sec_store_set(struct sec_store *st, const char *name, const char *value, size_t len,
		  struct mg_err *err)
{
	int64_t now = (int64_t)time(NULL);
	size_t i;

	if (!sec_name_ok(name))
		return mg_err_set(err, -EINVAL, "'%s' is not a secret name (letters, digits, '_', '.', "
				  "'-'; a letter or '_' first; at most 128)", name);
	for (i = 0; i < st->n && strcmp(st->e[i].name, name) != 0; i++)
		;
	if (i == st->n) {
		st->e = mg_realloc(st->e, (st->n + 1) * sizeof(*st->e));
		st->e[st->n++] = (struct sec_entry){ mg_strdup(name), NULL, 0, now, now };
	} else {
		sodium_memzero(st->e[i].value, st->e[i].len);
		free(st->e[i].value);
	}
	st->e[i].value = mg_memdup0(value, len);
	st->e[i].len = len;
	st->e[i].updated = now;
	qsort(st->e, st->n, sizeof(*st->e), cmp_entry);
	return save(st, err);
}

int sec_store_rm(struct sec_store *st, const char *name, struct mg_err *err)
{
	for (size_t i = 0; i < st->n; i++) {
		if (strcmp(st->e[i].name, name) != 0)
			continue;
		free(st->e[i].name);
		sodium_memzero(st->e[i].value, st->e[i].len);
		free(st->e[i].value);
		memmove(&st->e[i], &st->e[i + 1], (st->n - i - 1) * sizeof(*st->e));
		st->n--;
		return save(st, err);
	}
	return mg_err_set(err, -ENOENT, "no secret named '%s'", name);
}

size_t sec_store_count(const struct sec_store *st)
{
	return st->n;
}

const struct sec_entry *sec_store_at(const struct sec_store *st, size_t i)
{
	return i < st->n ? &st->e[i] : NULL;
}

const struct sec_entry *sec_store_get(const struct sec_store *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->e[i].name, name) == 0)
			return &st->e[i];
	return NULL;
}
