#ifndef PORTCULLIS_SCANNER_IMAGE_CONFIG_H
#define PORTCULLIS_SCANNER_IMAGE_CONFIG_H

#include <jansson.h>

/*
 * Checks of the image config blob (OCI image config or Docker image
 * JSON): the user the container runs as, exposed ports, and secrets in
 * environment variables.
 *
 * The report is
 *   {"user": "", "exposed_ports": ["22/tcp", ...],
 *    "findings": [{"id", "severity", "message"}, ...]}
 * with these finding ids:
 *   root_user   (high)    User is empty, "root", "0", "root:..." or "0:..."
 *   ssh_port    (medium)  port 22 is exposed
 *   env_secret  (high, or the severity of the matching secret rule)
 *               a variable named like a credential (*_TOKEN, *_SECRET,
 *               *_PASSWORD, *_API_KEY, AWS_SECRET_ACCESS_KEY, ...) has a
 *               non-empty value, or a value matches a secret rule. The
 *               message names the variable and never contains its value.
 */

/* Environment variables examined; the rest are ignored. */
#define IMAGE_CONFIG_MAX_ENV 4096U
/* Exposed ports listed; the rest are ignored. */
#define IMAGE_CONFIG_MAX_PORTS 1024U

/*
 * Analyzes config (the parsed config blob; its "config" object is read,
 * or config itself when it has none) and stores a new report in
 * *config_report. Returns PC_OK, PC_ERR_INVALID when config is not a JSON
 * object, or PC_ERR_NOMEM; *config_report is NULL on error.
 */
int image_config_analyze(const json_t *config, json_t **config_report);

#endif
