#ifndef PORTCULLIS_PROXY_SERVICE_H
#define PORTCULLIS_PROXY_SERVICE_H

#include "proxy/config.h"

/*
 * The running server: builds every part from cfg, runs the event loop
 * until SIGTERM or SIGINT has drained the connections, and reloads on
 * SIGHUP through serve_reload_config(flags, ...). Returns the process exit
 * status: 0 after a clean stop, 2 when start-up failed.
 */
int service_run(struct config *cfg, const char *config_file, const void *flags);

/* Rebuilds the configuration from the file and the flags; PC_OK or error. */
int serve_reload_config(const void *flags, struct config *cfg);

#endif
