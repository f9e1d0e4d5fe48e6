#include "proxy/auth_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/error.h"

int
auth_read_file(const char *path, char **out, size_t *len, char *errbuf,
    size_t errlen)
{
	struct stat st;
	char *data = NULL;
	size_t have = 0;
	int fd;
	int err = PC_OK;

	*out = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO must not hang the start; fstat rejects it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
		return PC_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "%s: not a regular file", path);
		err = PC_ERR_INVALID;
		goto out;
	}
	if (st.st_size > (off_t)AUTH_MAX_FILE_BYTES) {
		snprintf(errbuf, errlen, "%s: larger than the limit of %u bytes",
		    path, AUTH_MAX_FILE_BYTES);
		err = PC_ERR_LIMIT;
		goto out;
	}
	data = pc_malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		err = PC_ERR_NOMEM;
		snprintf(errbuf, errlen, "%s: out of memory", path);
		goto out;
	}

	/* The file may change size under us: read at most what was allocated. */
	while (have < (size_t)st.st_size) {
		ssize_t n = read(fd, data + have, (size_t)st.st_size - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(errbuf, errlen, "%s: read failed: %s", path,
			    strerror(errno));
			err = PC_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	data[have] = '\0';
	*out = data;
	*len = have;
	data = NULL;
out:
	if (data != NULL)
		auth_free_secret(data, (size_t)st.st_size + 1);
	close(fd);
	return err;
}

void
auth_free_secret(char *data, size_t len)
{
	if (data == NULL)
		return;
	OPENSSL_cleanse(data, len);
	pc_free(data);
}

int
auth_sha256(const void *const *parts, const size_t *lens, size_t n,
    unsigned char out[AUTH_SHA256_BYTES])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int outlen = 0;
	int ok;

	if (ctx == NULL)
		return PC_ERR_NOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i], lens[i]);
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, out, &outlen);
	EVP_MD_CTX_free(ctx);
	return ok && outlen == AUTH_SHA256_BYTES ? PC_OK : PC_ERR_NOMEM;
}
