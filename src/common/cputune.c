/*
 * cputune.c - run with glibc's memcpy tuned for the processor.
 *
 * On the AMD EPYC processors we measured, "rep movsb" copies at a
 * fifteenth of its usual speed when the destination starts in the first
 * half of a cache line (a 16 KiB copy: 1.8 GB/s against 25-34 GB/s;
 * bench/tunnel/copyalign.sh).  glibc 2.36 uses it for every copy from
 * about 2 KiB up, and a tunnel copies each TLS record several times, once
 * inside OpenSSL to just past the 5-byte record header, where we cannot
 * align it.  With glibc's threshold raised out of reach those copies use
 * vector moves, which are fast at any alignment.
 *
 * glibc reads GLIBC_TUNABLES once, before main, so the process runs itself
 * again with the tunable added.  The copy that starts then takes it out
 * of its environment again (glibc has already applied it), so the
 * commands it runs inherit the environment the operator gave it.
 * SCC_NO_CPUTUNE=1 turns this off (to compare, say).
 */
#include "cputune.h"

#include "common/err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GLIBC__)
#include <cpuid.h>
#include <sys/auxv.h>

#define TUNE_KEY "glibc.cpu.x86_rep_movsb_threshold"
#define TUNE_SET TUNE_KEY "=1073741824"
#define TUNE_MAX 4096
#define MARK     "SCC_CPUTUNE_EXEC" /* set only between our exec and its start */

static bool
cpu_is_amd(void)
{
    unsigned int eax, ebx, ecx, edx;

    if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0)
        return false;
    /* "AuthenticAMD", in the register order ebx, edx, ecx */
    return ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163;
}

/* The second start: put GLIBC_TUNABLES back as it was before the first
 * (mark holds "-" for unset, or "+" and the old value), then drop mark. */
static int
env_restore(const char *mark)
{
    int rc = 0;

    if (mark[0] == '+')
        rc = setenv("GLIBC_TUNABLES", mark + 1, 1); /* copies the value */
    else if (mark[0] == '-')
        rc = unsetenv("GLIBC_TUNABLES");
    rc = rc == 0 ? 0 : -errno;
    (void)unsetenv(MARK); /* last: mark points into the environment */
    return rc;
}

int
scc_cputune_apply(char **argv)
{
    const char *cur = getenv("GLIBC_TUNABLES"), *mark = getenv(MARK);
    char val[TUNE_MAX], old[TUNE_MAX + 1], self[4096];
    ssize_t n;
    int rc;

    if (mark)
        return env_restore(mark);
    /* The operator's own setting wins; set-uid starts ignore tunables. */
    if (!cpu_is_amd() || getauxval(AT_SECURE) || (cur && strstr(cur, TUNE_KEY)) ||
        getenv("SCC_NO_CPUTUNE"))
        return 0;
    if (snprintf(val, sizeof(val), "%s%s%s", cur ? cur : "", cur ? ":" : "", TUNE_SET) >=
                (int)sizeof(val) ||
        snprintf(old, sizeof(old), "%s%s", cur ? "+" : "-", cur ? cur : "") >= (int)sizeof(old))
        return SCC_ETRUNC;
    if (setenv(MARK, old, 1) != 0 || setenv("GLIBC_TUNABLES", val, 1) != 0)
        return -errno;
    /* By its real path, not /proc/self/exe: the kernel names the process
     * after the file run, and ps, pgrep and logs should keep seeing ours. */
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0 && (size_t)n < sizeof(self) - 1) {
        self[n] = '\0';
        execv(self, argv);
    }
    rc = n < 0 || (size_t)n < sizeof(self) - 1 ? -errno : SCC_ETRUNC;
    /* Not fatal: the process works, only slower.  Leave no trace. */
    (void)env_restore(old);
    return rc;
}

#else

int
scc_cputune_apply(char **argv)
{
    (void)argv;
    return 0;
}

#endif
