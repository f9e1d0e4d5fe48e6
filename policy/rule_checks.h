#ifndef PORTCULLIS_POLICY_RULE_CHECKS_H
#define PORTCULLIS_POLICY_RULE_CHECKS_H

/*
 * Internal to policy/: the evaluate and defaults functions of each rule,
 * which policy/rules.c lists in the rule table. Each evaluate function
 * reads the rule's normalized settings and the report in ctx and fills
 * res (see struct rule_result).
 */

#include "policy/policy_internal.h"

int check_vulnerabilities(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res);
int check_secrets(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res);
int check_root_user(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res);
int check_setuid_files(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res);
int check_banned_packages(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res);
int check_allowed_repositories(const json_t *settings,
    struct rule_context *ctx, struct rule_result *res);
int check_max_image_age(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res);
int check_max_image_size(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res);
int check_scan_error(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res);

int defaults_vulnerabilities(json_t *settings);
int defaults_setuid_files(json_t *settings);

/*
 * Parses the next clause of a version constraint ("< 1.2.3, >= 1.0") at
 * *p into op (one of "<", "<=", ">", ">=", "=", "!=") and version, and
 * advances *p past a following comma. Returns PC_OK, PC_ERR_NOTFOUND at
 * the end of the string, or PC_ERR_INVALID.
 */
int constraint_next(const char **p, char op[3], char *version,
    size_t version_len);

/*
 * Returns true when an exception in force removes the finding, and counts
 * the removal on that exception.
 */
bool exceptions_remove_vulnerability(struct rule_context *ctx,
    const json_t *vulnerability);
bool exceptions_remove_secret(struct rule_context *ctx, const json_t *secret);

#endif
