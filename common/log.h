#ifndef PORTCULLIS_COMMON_LOG_H
#define PORTCULLIS_COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Logging in key=value form, one line per event, to standard error:
 *
 *   ts=2026-12-04T20:31:07.215Z level=info event=listen addr=127.0.0.1:5000
 *
 * The format string supplies the fields after level=; values that may hold
 * spaces or quotes go through log_quote(). Lines below the configured level
 * cost one comparison. Safe to call from any thread.
 */
enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_WARN = 2,
	LOG_LEVEL_ERROR = 3,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "debug", "info", "warn" or "error"; returns 0, or -1 if unknown. */
int log_level_parse(const char *name, enum log_level *level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/*
 * Writes s into out (size outlen) as a log value: unchanged when it holds
 * only safe characters, otherwise in double quotes with \" \\ \n escaped and
 * other control bytes as \xNN. Output is cut, still quoted, at outlen.
 * Returns out.
 */
const char *log_quote(char *out, size_t outlen, const char *s);

#endif
