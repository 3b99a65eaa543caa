/*
 * cli.c -- the command-line handling the tools share (see cli.h).
 */
#include "config.h"

#include "cli.h"

#include <getopt.h>

#include "exitcode.h"
#include "output.h"

int
ck_cli_common(const ck_cli_t *cli, int opt, char *const argv[])
{
  if (opt == cli->opt_help) {
    cli->usage(stdout);
    return CK_EXIT_OK;
  }
  if (opt == cli->opt_version) {
    printf("%s (%s) %s\n", cli->name, PACKAGE_NAME, PACKAGE_VERSION);
    return CK_EXIT_OK;
  }
  if (opt == '?' && optopt != 0)
    return ck_usage_error("unknown option '-%c'; try '%s --help'", optopt,
                          cli->name);
  if (opt == '?')
    return ck_usage_error("unknown option '%s'; try '%s --help'",
                          argv[optind - 1], cli->name);
  if (opt == ':')
    return ck_usage_error("option '%s' needs a value", argv[optind - 1]);
  return CK_CLI_CONTINUE;
}

int
ck_cli_keys_option(const ck_cli_t *cli, ck_keys_t *keys, int opt,
                   const char *arg)
{
  switch (ck_keys_option(keys, opt, arg)) {
  case 1:
    return 0;
  case -1:
    return CK_EXIT_USAGE;
  default:
    return ck_usage_error("try '%s --help'", cli->name);
  }
}

int
ck_cli_bad_value(const char *option, const char *value, const char *expected)
{
  return ck_usage_error("invalid value '%s' for %s: %s", value, option,
                        expected);
}
