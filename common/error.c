#include "common/error.h"

const char *
pc_strerror(int err)
{
	switch (err) {
	case PC_OK:
		return "success";
	case PC_ERR_NOMEM:
		return "out of memory";
	case PC_ERR_INVALID:
		return "invalid input";
	case PC_ERR_IO:
		return "input/output error";
	case PC_ERR_LIMIT:
		return "limit exceeded";
	case PC_ERR_NOTFOUND:
		return "not found";
	case PC_ERR_UNSUPPORTED:
		return "unsupported";
	case PC_ERR_MISMATCH:
		return "digest mismatch";
	case PC_ERR_TRUNCATED:
		return "truncated";
	case PC_ERR_UPSTREAM:
		return "upstream failure";
	case PC_ERR_EXISTS:
		return "already exists";
	case PC_ERR_AGAIN:
		return "try again";
	case PC_ERR_NOSPACE:
		return "no space left on device";
	case PC_ERR_DENIED:
		return "access denied";
	case PC_ERR_TIMEOUT:
		return "timed out";
	}
	return "unknown error";
}
