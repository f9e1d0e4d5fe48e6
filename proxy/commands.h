#ifndef PORTCULLIS_PROXY_COMMANDS_H
#define PORTCULLIS_PROXY_COMMANDS_H

/*
 * Subcommands of the portcullis binary. Each takes the arguments after its
 * own name (argv[0] is the subcommand name) and returns the process exit
 * status: 0 on success, 2 on a usage or runtime error, and 1 where a
 * command documents it (a scan that the policy denies).
 */
int cmd_serve(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_vercmp(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_cache(int argc, char **argv);

#endif
