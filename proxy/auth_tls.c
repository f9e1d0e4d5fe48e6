#include "proxy/auth.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/error.h"

int
auth_tls_client_subject(const struct ssl_st *ssl, char *out, size_t outlen)
{
	X509 *cert;
	BIO *bio;
	char *text = NULL;
	long len;
	int err = PC_OK;

	if (outlen > 0)
		out[0] = '\0';
	cert = SSL_get0_peer_certificate(ssl);
	/* Without a certificate the verify result is X509_V_OK too. */
	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return PC_ERR_NOTFOUND;

	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return PC_ERR_NOMEM;
	/* RFC 2253 escapes control characters and bytes over 0x7f as \XX. */
	if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
	    XN_FLAG_RFC2253) < 0) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	len = BIO_get_mem_data(bio, &text);
	if (len <= 0) {
		err = PC_ERR_NOTFOUND;  /* an empty subject identifies no client */
		goto out;
	}
	if ((size_t)len > AUTH_MAX_SUBJECT_BYTES || (size_t)len >= outlen) {
		err = PC_ERR_LIMIT;
		goto out;
	}
	memcpy(out, text, (size_t)len);
	out[len] = '\0';
out:
	BIO_free(bio);
	return err;
}
