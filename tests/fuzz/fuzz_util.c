#include "tests/fuzz/fuzz_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return NULL;
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

int
fuzz_split_nul(const uint8_t *data, size_t size, char **first, char **second)
{
	const uint8_t *nul = size > 0 ? memchr(data, '\0', size) : NULL;
	size_t first_len = nul != NULL ? (size_t)(nul - data) : size;
	size_t rest = nul != NULL ? size - first_len - 1 : 0;

	*first = fuzz_strndup(data, first_len);
	*second = fuzz_strndup(nul != NULL ? nul + 1 : data, rest);
	if (*first == NULL || *second == NULL) {
		free(*first);
		free(*second);
		*first = NULL;
		*second = NULL;
		return -1;
	}
	return 0;
}

int
fuzz_memfd(const char *name, const uint8_t *data, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}
