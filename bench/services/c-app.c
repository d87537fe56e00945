/* A small status service in C (fork per connection, like inetd-era daemons) with a command-injection flaw on
 * purpose. GET / (page), GET /status (uptime and load from /proc), GET /ping?host=<h> (runs `echo reply from <h>`
 * through popen, i.e. a shell: the flaw — the host is pasted into the command line). Used by threatlens's syscall
 * benchmarks and live tests; listens on 127.0.0.1 only. Build: cc -O2 -o c-app c-app.c */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void reply(int fd, const char *body) {
  char head[256];
  int n = snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n", strlen(body));
  write(fd, head, n);
  write(fd, body, strlen(body));
}

static void slurp(const char *path, char *out, size_t size) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(out, 1, size - 1, f) : 0;
  out[n] = 0;
  if (f) fclose(f);
}

static void serve(int fd) {
  char req[2048] = {0}, body[4096] = {0}, cmd[1200];
  read(fd, req, sizeof req - 1);
  if (strncmp(req, "GET /status", 11) == 0) {
    char up[256], load[256];
    slurp("/proc/uptime", up, sizeof up);
    slurp("/proc/loadavg", load, sizeof load);
    snprintf(body, sizeof body, "uptime %sload %s", up, load);
  } else if (strncmp(req, "GET /ping?host=", 15) == 0) {
    char *host = req + 15, *end = strchr(host, ' ');
    if (end) *end = 0;
    for (char *p = host; *p; p++) if (*p == '+') *p = ' ';
    snprintf(cmd, sizeof cmd, "echo reply from %s", host);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(body, 1, sizeof body - 1, p) : 0;
    body[n] = 0;
    if (p) pclose(p);
  } else {
    strcpy(body, "<h1>status</h1>");
  }
  reply(fd, body);
}

int main(int argc, char **argv) {
  signal(SIGCHLD, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) return 1;
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    if (fork() == 0) {
      close(s);
      serve(c);
      close(c);
      _exit(0);
    }
    close(c);
  }
}
