#ifndef PORTCULLIS_COMMON_ERROR_H
#define PORTCULLIS_COMMON_ERROR_H

/*
 * The one error type of portcullis. Functions that can fail return an
 * enum pc_err (PC_OK on success) and hand results back through
 * out-parameters. The edge that decides what to do with an error logs it,
 * once; the layers in between only pass it on.
 */
enum pc_err {
	PC_OK = 0,
	PC_ERR_NOMEM = -1,       /* an allocation failed */
	PC_ERR_INVALID = -2,     /* input is malformed or out of range */
	PC_ERR_IO = -3,          /* a system call on a file or socket failed */
	PC_ERR_LIMIT = -4,       /* input exceeds a named limit */
	PC_ERR_NOTFOUND = -5,    /* the requested object does not exist */
	PC_ERR_UNSUPPORTED = -6, /* valid input that this build cannot handle */
	PC_ERR_MISMATCH = -7,    /* content does not match its digest */
	PC_ERR_TRUNCATED = -8,   /* a stream ended before its declared end */
	PC_ERR_UPSTREAM = -9,    /* the upstream registry failed */
	PC_ERR_EXISTS = -10,     /* the object already exists */
	PC_ERR_AGAIN = -11,      /* try again later: no data yet, lock held */
	PC_ERR_NOSPACE = -12,    /* the disk is full */
	PC_ERR_DENIED = -13,     /* access refused by a rule or a credential */
	PC_ERR_TIMEOUT = -14,    /* an operation timed out */
};

/* Returns a static, lower-case description of err, e.g. "invalid input". */
const char *pc_strerror(int err);

#endif
