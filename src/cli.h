/*
 * cli.h -- what every tool's command line does alike: the getopt loop's
 * --help, --version, unknown options and missing values, the security
 * options (src/keys.h) and the message for a bad value.  Each cmd/ main
 * keeps only its own options.
 */
#ifndef COAPKIT_SRC_CLI_H
#define COAPKIT_SRC_CLI_H

#include <stdio.h>

#include "keys.h"

/* Returned by ck_cli_common for an option the tool handles itself. */
#define CK_CLI_CONTINUE (-1)

typedef struct ck_cli_t {
  const char *name;          /* the tool, as in its messages */
  void (*usage)(FILE *out);  /* prints --help */
  int opt_help, opt_version; /* the tool's getopt values for them */
} ck_cli_t;

/* One getopt_long result: --help and --version print and return 0, an
 * unknown option or a missing value prints and returns CK_EXIT_USAGE;
 * anything else returns CK_CLI_CONTINUE. */
int ck_cli_common(const ck_cli_t *cli, int opt, char *const argv[]);

/* An option none of the tool's own: a security option goes to keys
 * (ck_keys_option); returns 0 or an exit status. */
int ck_cli_keys_option(const ck_cli_t *cli, ck_keys_t *keys, int opt,
                       const char *arg);

/* "invalid value 'VALUE' for OPTION: EXPECTED"; returns CK_EXIT_USAGE. */
int ck_cli_bad_value(const char *option, const char *value,
                     const char *expected);

#endif
