/*
 * fuzz_keys.c -- the tools' key and PSK file readers (src/keys.c): the
 * --key-file (first line: text or 0x hex), the client's hint file
 * (hint,identity,key lines), the server's --psk-file (identity,key) and
 * --sni-psk-file (sni,hint,key), through ck_keys_load as the tools call it.
 *
 * Input: one byte choosing the file kind, then the file's contents, given
 * as an in-memory file (memfd, mode 0600) so nothing touches the disk.
 * Besides no crash, no leak: a file that loads yields at least one entry,
 * every name and identity is a terminated string shorter than the field,
 * every key is 1..CK_KEY_MAX bytes, and a text key is the line itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "keys.h"

static int devnull = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_quiet_logs();
  devnull = open("/dev/null", O_WRONLY);
  return 0;
}

static void
check_entries(const ck_psk_entry_t *e, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    FUZZ_CHECK(memchr(e[i].name, '\0', sizeof(e[i].name)) != NULL);
    FUZZ_CHECK(memchr(e[i].identity, '\0', sizeof(e[i].identity)) != NULL);
    FUZZ_CHECK(e[i].key_len >= 1 && e[i].key_len <= CK_KEY_MAX);
  }
}

/* The key file's first line when it is a text key (not 0x...). */
static void
check_text_key(const ck_keys_t *k, const uint8_t *data, size_t size)
{
  size_t n = 0;

  while (n < size && data[n] != '\n' && data[n] != '\0')
    n++;
  while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n'))
    n--;
  if (n >= 2 && data[0] == '0' && (data[1] == 'x' || data[1] == 'X'))
    return;
  if (n != k->key_len)
    return; /* a line longer than the reader's buffer is cut: not checked */
  FUZZ_CHECK(memcmp(k->key, data, n) == 0);
}

/* ck_keys_load prints its one-line errors on stderr: silence it for the
 * call only, so libFuzzer's own reports still show. */
static int
quiet_load(ck_keys_t *k)
{
  int saved = dup(STDERR_FILENO), rc;

  if (saved >= 0 && devnull >= 0)
    dup2(devnull, STDERR_FILENO);
  rc = ck_keys_load(k);
  if (saved >= 0) {
    dup2(saved, STDERR_FILENO);
    close(saved);
  }
  return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  ck_keys_t k;
  char path[64];
  int fd, kind;

  if (size < 1)
    return 0;
  kind = data[0] & 3;
  data++;
  size--;
  fd = memfd_create("fuzz-keys", 0);
  if (fd < 0)
    return 0;
  if (fchmod(fd, 0600) < 0 || (size && write(fd, data, size) != (ssize_t)size))
    goto done;
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ck_keys_init(&k, kind >= 2 ? CK_KEYS_SERVER : CK_KEYS_CLIENT);
  if (kind == 0)
    k.key_file = path;
  else if (kind == 1)
    k.hint_file = path;
  else if (kind == 2)
    k.psk_file = path;
  else
    k.sni_psk_file = path;
  if (quiet_load(&k) == 0) {
    FUZZ_CHECK(kind != 0 || (k.have_key && k.key_len >= 1 &&
                             k.key_len <= CK_KEY_MAX));
    FUZZ_CHECK(kind == 0 || kind == 3 || k.n_entries >= 1);
    FUZZ_CHECK(kind != 3 || k.n_sni >= 1);
    if (kind == 0)
      check_text_key(&k, data, size);
  }
  check_entries(k.entries, k.n_entries);
  check_entries(k.sni, k.n_sni);
  ck_keys_free(&k);
done:
  close(fd);
  return 0;
}
