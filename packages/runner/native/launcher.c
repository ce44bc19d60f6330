/*
 * Hearth's host-runtime supervisor, native build. Same protocol and behaviour as the perl script in
 * src/internal/launcher.ts (read that first); this one starts commands with vfork(), which costs a fraction of
 * forking a perl interpreter, so a no-op instance costs about what `xargs` pays for `sh -c`.
 *
 * Built on first use by the runner with the system C compiler; the perl script is the fallback without one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct lane {
  char *name, *dir, *hexdir;
  int wo, we, mo, me; /* read-write ends handed to commands; non-blocking ends for markers */
  /*
   * An emptied instance dir (work/ and state/ with its two files) kept at <dir>/spare for the lane's next instance:
   * on ext4, every inode allocation right after deletions reads the inode table (recently_deleted()), so renaming a
   * dir back and forth costs far less than making and removing three dirs and two files per instance.
   */
  int has_spare;
  struct lane *next;
};

struct job {
  pid_t pid;
  char *id, *dir;
  char *memory, *cpuacct; /* cgroup dirs, or NULL */
  long oom_base;
  int remove, detached;
  struct lane *lane;
  struct job *next;
};

static const char *nonce;
static struct lane *lanes;
static struct job *jobs;
static int node_alive = 1;
static pid_t server_pid;

/* The server is gone once we are reparented, even before its end of our stdin reads as closed. */
static int server_alive(void) {
  if (node_alive && getppid() != server_pid) node_alive = 0;
  return node_alive;
}

static void out(const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return; /* the server is gone */
    }
    s += w;
    n -= (size_t)w;
  }
}

static void outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* "<kind> <id> <hex of message: strerror>" */
static void fail(const char *kind, const char *id, const char *what, int e) {
  char msg[4096], hex[8193];
  snprintf(msg, sizeof msg, "%s%s%s", what, e ? ": " : "", e ? strerror(e) : "");
  size_t i = 0;
  for (const unsigned char *p = (const unsigned char *)msg; *p && i + 2 < sizeof hex; p++, i += 2) sprintf(hex + i, "%02x", *p);
  hex[i] = 0;
  outf("%s %s %s\n", kind, id, hex);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

/* Decodes hex in place; returns the string. */
static char *unhex(char *s) {
  size_t n = strlen(s) / 2;
  for (size_t i = 0; i < n; i++) s[i] = (char)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
  s[n] = 0;
  return s;
}

/* mkdir -p: the common case (parent exists) costs one call. */
static int mkpath(const char *path) {
  if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT) return -1;
  char p[4096];
  size_t n = strlen(path);
  if (n >= sizeof p) return errno = ENAMETOOLONG, -1;
  memcpy(p, path, n + 1);
  char *slash = strrchr(p, '/');
  if (!slash || slash == p) return -1;
  *slash = 0;
  if (mkpath(p) < 0) return -1;
  return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Removes a tree without following symlinks; d_type saves a stat per entry. */
static void rmtree_at(int parent, const char *name) {
  if (unlinkat(parent, name, 0) == 0 || (errno != EISDIR && errno != EPERM)) return;
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  DIR *d = fdopendir(fd);
  if (!d) return (void)close(fd);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) rmtree_at(fd, e->d_name);
    else unlinkat(fd, e->d_name, 0);
  }
  closedir(d);
  unlinkat(parent, name, AT_REMOVEDIR);
}

static void rmtree(const char *path) {
  rmtree_at(AT_FDCWD, path);
}

/* Removes what a dir holds, except the entries named in keep (NULL-terminated). */
static int empty_dir(const char *path, const char *const *keep) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR *d = fdopendir(fd);
  if (!d) return close(fd), -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    int skip = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    for (const char *const *k = keep; !skip && *k; k++) skip = !strcmp(e->d_name, *k);
    if (!skip) rmtree_at(fd, e->d_name);
  }
  closedir(d);
  return 0;
}

/* Empties a finished instance's dir into the lane's spare, or removes it when the lane has one already. */
static void recycle(const char *dir, struct lane *l) {
  static const char *const none[] = {NULL}, *const dirs[] = {"work", "state", NULL}, *const files[] = {"instance.json", "pid", NULL};
  char p[4300], spare[4300];
  snprintf(spare, sizeof spare, "%s/spare", l->dir);
  if (!l->has_spare) {
    snprintf(p, sizeof p, "%s/work", dir);
    int ok = empty_dir(p, none) == 0 && empty_dir(dir, dirs) == 0;
    snprintf(p, sizeof p, "%s/state", dir);
    if (ok && empty_dir(p, files) == 0 && rename(dir, spare) == 0) {
      l->has_spare = 1;
      return;
    }
  }
  rmtree(dir);
}

/*
 * Writes a small file. An existing one (a recycled dir's) is overwritten in place and then cut to size: O_TRUNC would
 * free its block only for the write to allocate one again. Cgroup files take a plain write (no truncate there).
 */
static int put(const char *file, const char *text, size_t n) {
  int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  size_t len = n;
  while (n > 0) {
    ssize_t w = write(fd, text, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return errno = e, -1;
    }
    text += w;
    n -= (size_t)w;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > len && ftruncate(fd, (off_t)len) < 0) {
    int e = errno;
    close(fd);
    return errno = e, -1;
  }
  return close(fd);
}

/* A number from a cgroup file, or -1. With `key`, the value of that line of a "key value" file. */
/*
 * Open cgroup files, kept: the server pools its cgroups, so the same few are used over and over, and reading or
 * resetting a counter then costs one call instead of three. Entries of removed groups fail and age out.
 */
#define CG_CACHE 64
static struct {
  char *path;
  int flags, fd;
  unsigned long used;
} cg_cache[CG_CACHE];
static unsigned long cg_clock;

static int cg_file(const char *dir, const char *file, int flags) {
  char p[4300];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  int oldest = 0;
  for (int i = 0; i < CG_CACHE; i++) {
    if (cg_cache[i].path && cg_cache[i].flags == flags && !strcmp(cg_cache[i].path, p)) return cg_cache[i].used = ++cg_clock, cg_cache[i].fd;
    if (cg_cache[i].used < cg_cache[oldest].used) oldest = i;
  }
  int fd = open(p, flags | O_CLOEXEC);
  if (fd < 0) return -1;
  if (cg_cache[oldest].path) free(cg_cache[oldest].path), close(cg_cache[oldest].fd);
  cg_cache[oldest].path = strdup(p);
  cg_cache[oldest].flags = flags;
  cg_cache[oldest].fd = fd;
  cg_cache[oldest].used = ++cg_clock;
  return fd;
}

/* A number from a cgroup file, or -1. With `key`, the value of that line of a "key value" file. */
static long long read_number(const char *dir, const char *file, const char *key) {
  char text[1024];
  if (!dir) return -1;
  int fd = cg_file(dir, file, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return -1;
  text[n] = 0;
  if (!key) return atoll(text);
  size_t k = strlen(key);
  for (char *s = text; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL)
    if (!strncmp(s, key, k) && s[k] == ' ') return atoll(s + k + 1);
  return -1;
}

static void reset(const char *dir, const char *file) {
  if (!dir) return;
  int fd = cg_file(dir, file, O_WRONLY);
  if (fd >= 0 && pwrite(fd, "0\n", 2, 0) < 0) {
    /* a counter left as it was only makes that instance's figures larger */
  }
}

static int pipe_empty(int fd) {
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 && n == 0;
}

static void marker(struct lane *l, const char *id) {
  char m[256];
  int n = snprintf(m, sizeof m, "%chearth-end:%s:%s%c", 0, nonce, id, 0);
  int fds[2] = {l->mo, l->me};
  for (int i = 0; i < 2; i++) {
    for (int tries = 0; tries < 400; tries++) {
      if (write(fds[i], m, (size_t)n) == n) break;
      if (!node_alive || errno != EAGAIN) break;
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
}

static void reap(void) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    struct job **pp = &jobs, *j;
    while ((j = *pp) && j->pid != pid) pp = &j->next;
    if (!j) continue;
    *pp = j->next;
    kill(-pid, SIGKILL); /* what the command left behind in its process group ends with it */
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    /* With no server listening, keep the dir and record the exit for the one that restarts. */
    int remove = j->remove && server_alive();
    if (!remove) {
      char file[4200], text[16];
      snprintf(file, sizeof file, "%s/state/exit", j->dir);
      int n = snprintf(text, sizeof text, "%d\n", sig ? 128 + sig : code);
      put(file, text, (size_t)n);
    }
    /*
     * Both FIFOs empty while our server follows the lane: it has read all of this instance's output already (each
     * read is handed on before the server looks at its next event), so the x line itself ends the streams and the
     * markers, two more wake-ups of the server, are not needed.
     */
    int markers = !(server_alive() && !j->detached && pipe_empty(j->lane->wo) && pipe_empty(j->lane->we));
    if (markers) marker(j->lane, j->id);
    /* What the instance's cgroups counted: peak memory, cpu time, and whether the kernel OOM-killed in it. */
    long long peak = read_number(j->memory, "memory.max_usage_in_bytes", NULL);
    long long cpu = read_number(j->cpuacct, "cpuacct.usage", NULL);
    long long kills = read_number(j->memory, "memory.oom_control", "oom_kill");
    int oom = kills >= 0 ? kills > j->oom_base : read_number(j->memory, "memory.failcnt", NULL) > 0;
    int empty = -1; /* whether the cgroup can be reused at once */
    if (j->memory) {
      char c;
      int fd = cg_file(j->memory, "cgroup.procs", O_RDONLY);
      if (fd >= 0) empty = pread(fd, &c, 1, 0) == 0;
    }
    outf("x %s %d %d %lld %lld %d %d %d\n", j->id, sig ? -1 : code, sig, peak, cpu, j->memory ? oom : -1, empty, markers);
    /* After the answer: the server goes on with its next instance while this one's dir is emptied. */
    if (remove) recycle(j->dir, j->lane);
    free(j->id);
    free(j->dir);
    free(j->memory);
    free(j->cpuacct);
    free(j);
  }
}

static struct lane *find_lane(const char *name) {
  for (struct lane *l = lanes; l; l = l->next)
    if (!strcmp(l->name, name)) return l;
  return NULL;
}

/* Splits a line at spaces, in place. */
static int split(char *line, char **f, int max) {
  int n = 0;
  char *s = line;
  while (n < max) {
    f[n++] = s;
    char *sp = strchr(s, ' ');
    if (!sp) break;
    *sp = 0;
    s = sp + 1;
  }
  return n;
}

static void make_lane(char **f, int n) {
  if (n < 3) return;
  char *name = f[1], *hexdir = strdup(f[2]), *dir = unhex(f[2]);
  struct lane *l = calloc(1, sizeof *l);
  char p[4200];
  int ok = mkpath(dir) == 0;
  int *rw[2] = {&l->wo, &l->we}, *nb[2] = {&l->mo, &l->me};
  for (int i = 0; ok && i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, i ? "stderr" : "stdout");
    unlink(p);
    ok = mkfifo(p, 0600) == 0 && (*rw[i] = open(p, O_RDWR | O_CLOEXEC)) >= 0 && (*nb[i] = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0;
  }
  if (!ok) {
    fail("E", name, "cannot create the log lane", errno);
    free(hexdir);
    free(l);
    return;
  }
  l->name = strdup(name);
  l->dir = strdup(dir);
  l->hexdir = hexdir;
  l->next = lanes;
  lanes = l;
  outf("L %s\n", name);
}

struct spawn {
  int out, err;
  const int *procs; /* cgroup.procs files, open (-1: could not be opened) */
  int nprocs;
  const char *workdir;
  char **argv, **envp;
};

/*
 * The vfork()ed child, in a frame of its own below the parent's (which it must not touch): it shares our memory
 * until it execs, so system calls only.
 */
static void __attribute__((noinline, noreturn)) child(const struct spawn *sp) {
  sigset_t none;
  sigemptyset(&none);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, NULL);
  setsid();
  dup2(sp->out, 1);
  dup2(sp->err, 2);
  int null = open("/dev/null", O_RDONLY);
  if (null > 0) dup2(null, 0), close(null);
  char pidtext[24];
  int pn = snprintf(pidtext, sizeof pidtext, "%ld\n", (long)syscall(SYS_getpid));
  for (int i = 0; i < sp->nprocs; i++) {
    if (sp->procs[i] < 0 || write(sp->procs[i], pidtext, (size_t)pn) != pn) {
      dprintf(2, "[hearth] cannot join the instance's cgroups: %s\n", strerror(sp->procs[i] < 0 ? ENOENT : errno));
      _exit(92);
    }
  }
  if (chdir(sp->workdir) < 0) {
    dprintf(2, "[hearth] cannot enter the working dir %s: %s\n", sp->workdir, strerror(errno));
    _exit(126);
  }
  execvpe(sp->argv[0], sp->argv, sp->envp);
  dprintf(2, "[hearth] cannot run %s: %s\n", sp->argv[0], strerror(errno));
  _exit(127);
}

/* vfork() in a function of its own: the child's calls never reach the frames of the parent's callers. */
static pid_t __attribute__((noinline)) spawn_child(const struct spawn *sp) {
  pid_t pid = vfork();
  if (pid == 0) child(sp);
  return pid;
}

static void run(char **f, int n, const char *end) {
  /* r id lane flags dir workdir cgroups argc argv... envc env... json (raw, to the end of the line) */
  if (n < 9) return;
  char *id = f[1], *flags = f[3];
  struct lane *l = find_lane(f[2]);
  if (!l) return fail("e", id, "unknown lane", 0);
  char *dir = unhex(f[4]), *workdir = unhex(f[5]), *cg = unhex(f[6]);
  int argc = atoi(f[7]);
  if (argc < 1 || 9 + argc > n) return fail("e", id, "bad request", 0);
  int envc = atoi(f[8 + argc]);
  if (envc < 0 || 10 + argc + envc > n) return fail("e", id, "bad request", 0);
  /* the JSON had spaces, which split() cut at: put them back */
  char *json = f[9 + argc + envc];
  for (char *c = json; c < end; c++)
    if (!*c) *c = ' ';
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  char **envp = calloc((size_t)envc + 1, sizeof *envp);
  for (int i = 0; i < argc; i++) argv[i] = unhex(f[8 + i]);
  for (int i = 0; i < envc; i++) envp[i] = unhex(f[9 + argc + i]);
  /* "controller:dir" pairs: the command joins each; memory and cpuacct counters are reset here and read at its end. */
  int procs[8];
  char *memory = NULL, *cpuacct = NULL;
  int ncg = 0;
  for (char *s = strtok(cg, " "); s && ncg < 8; s = strtok(NULL, " ")) {
    char *d = strchr(s, ':');
    if (!d) continue;
    *d++ = 0;
    if (!strcmp(s, "memory")) memory = d;
    if (!strcmp(s, "cpuacct")) cpuacct = d;
    procs[ncg++] = cg_file(d, "cgroup.procs", O_WRONLY);
  }
  reset(memory, "memory.max_usage_in_bytes");
  reset(memory, "memory.failcnt");
  reset(cpuacct, "cpuacct.usage");
  long oom_base = (long)read_number(memory, "memory.oom_control", "oom_kill");

  char state[4200], p[4300];
  snprintf(state, sizeof state, "%s/state", dir);
  struct stat st;
  int fresh = !strchr(flags, 'p'), reused = 0;
  if (fresh && lstat(dir, &st) == 0) rmtree(dir); /* leftovers of an earlier attempt */
  if (fresh && l->has_spare) {
    char spare[4300], parent[4200];
    snprintf(spare, sizeof spare, "%s/spare", l->dir);
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = 0;
    if (mkpath(parent) == 0 && rename(spare, dir) == 0) l->has_spare = 0, reused = 1;
  }
  if (!reused && (mkpath(dir) < 0 || mkpath(workdir) < 0 || mkpath(state) < 0)) {
    fail("e", id, "cannot create the instance dir", errno);
    goto done;
  }
  snprintf(p, sizeof p, "%s/instance.json", state);
  if (put(p, json, strlen(json)) < 0) {
    fail("e", id, "cannot write the instance state file", errno);
    goto done;
  }
  struct spawn sp = {l->wo, l->we, procs, ncg, workdir, argv, envp};
  pid_t pid = spawn_child(&sp);
  if (pid < 0) {
    fail("e", id, "fork failed", errno);
    goto done;
  }
  long ticks = 0;
  snprintf(p, sizeof p, "/proc/%d/stat", pid);
  FILE *sf = fopen(p, "re");
  if (sf) {
    char text[1024];
    size_t len = fread(text, 1, sizeof text - 1, sf);
    fclose(sf);
    text[len] = 0;
    char *s = strrchr(text, ')');
    /* field 22 (starttime) is the 20th after the ") " that ends field 2 */
    for (int k = 0; s && k < 20; k++) s = strchr(s + 1, ' ');
    if (s) ticks = atol(s + 1);
  }
  char pidline[8700];
  snprintf(p, sizeof p, "%s/pid", state);
  int pl = snprintf(pidline, sizeof pidline, "%d %ld %s %s %s\n", pid, ticks, nonce, id, l->hexdir);
  put(p, pidline, (size_t)pl);
  struct job *j = calloc(1, sizeof *j);
  j->pid = pid;
  j->id = strdup(id);
  j->dir = strdup(dir);
  j->remove = strchr(flags, 'c') != NULL;
  j->memory = memory ? strdup(memory) : NULL;
  j->cpuacct = cpuacct ? strdup(cpuacct) : NULL;
  j->oom_base = oom_base;
  j->lane = l;
  j->next = jobs;
  jobs = j;
  outf("s %s %d %ld\n", id, pid, ticks);
done:
  free(argv);
  free(envp);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  nonce = argv[1];
  server_pid = getppid();
  signal(SIGPIPE, SIG_IGN);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  sigprocmask(SIG_BLOCK, &blocked, NULL);
  int sfd = signalfd(-1, &blocked, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 3;

  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  struct pollfd fds[2] = {{0, POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (!node_alive && !jobs) break;
    fds[0].fd = node_alive ? 0 : -1;
    if (poll(fds, 2, node_alive ? -1 : 1000) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
      }
    }
    reap();
    if (node_alive && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (cap - len < 4096) buf = realloc(buf, cap *= 2);
      ssize_t r = read(0, buf + len, cap - len - 1);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        node_alive = 0; /* the server is gone (exited or crashed): record the exits of what still runs, then leave */
        continue;
      }
      len += (size_t)r;
      char *start = buf, *nl;
      while ((nl = memchr(start, '\n', (size_t)(buf + len - start)))) {
        *nl = 0;
        char **f = malloc(sizeof(char *) * (size_t)(nl - start + 2));
        int n = split(start, f, (int)(nl - start + 2));
        if (n > 0 && !strcmp(f[0], "l")) make_lane(f, n);
        else if (n > 0 && !strcmp(f[0], "r")) run(f, n, nl);
        else if (n > 1 && !strcmp(f[0], "d"))
          for (struct job *j = jobs; j; j = j->next)
            if (!strcmp(j->id, f[1])) j->remove = 0, j->detached = 1;
        free(f);
        start = nl + 1;
      }
      len = (size_t)(buf + len - start);
      memmove(buf, start, len);
    }
  }
  for (struct lane *l = lanes; l; l = l->next) {
    char p[4200];
    snprintf(p, sizeof p, "%s/stdout", l->dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/stderr", l->dir);
    unlink(p);
    rmtree(l->dir);
  }
  return 0;
}
