/* contention.c - is the machine busy while we time? Other processes' CPU use over a window
 * (all CPUs' busy time from /proc/stat minus this process's own CPU time), the hypervisor's
 * steal share, and the run queue against the cores. On shared cores an OpenMP team waits at
 * every barrier for a thread the scheduler parked (a 26 ms graph was timed at 40-1,444 ms), so
 * a busy machine is timed with fewer threads and the result says so (see measure.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"

/* the aggregate "cpu" line: busy and total jiffies, steal; procs_running */
static int read_proc_stat(double *busy, double *total, double *steal, int *running) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    char line[512];
    int got = 0;
    *running = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v[10] = {0};
        if (!strncmp(line, "cpu ", 4)) {
            int n = sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                           &v[6], &v[7], &v[8], &v[9]);
            if (n < 4) break;
            /* user nice system idle iowait irq softirq steal (guest time is inside user) */
            double idle = (double)v[3] + (double)v[4];
            *total = 0;
            for (int k = 0; k < 8 && k < n; k++) *total += (double)v[k];
            *busy = *total - idle;
            *steal = n > 7 ? (double)v[7] : 0;
            got |= 1;
        } else if (sscanf(line, "procs_running %d", running) == 1) {
            got |= 2;
        }
    }
    fclose(f);
    return got == 3 ? 0 : -1;
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void machine_load_begin(MachineLoadProbe *p) {
    memset(p, 0, sizeof *p);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    p->cores = cores > 0 ? (int)cores : 1;
    p->ok = read_proc_stat(&p->busy, &p->total, &p->steal, &p->running) == 0;
    p->wall_s = clock_s(CLOCK_MONOTONIC);
    p->own_s = clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

MachineLoad machine_load_end(const MachineLoadProbe *p) {
    MachineLoad l = {.cores = p->cores, .others_cores = -1, .steal = -1, .run_queue = -1};
    double busy, total, steal;
    int running;
    if (!p->ok || read_proc_stat(&busy, &total, &steal, &running)) return l;
    double wall = clock_s(CLOCK_MONOTONIC) - p->wall_s, own = clock_s(CLOCK_PROCESS_CPUTIME_ID) - p->own_s;
    double dt = total - p->total;
    l.run_queue = running;
    if (dt <= 0 || wall <= 0) return l;
    /* jiffies -> seconds of CPU: the share of all CPUs' time that was busy, times cores, times wall */
    double busy_cpu_s = (busy - p->busy) / dt * p->cores * wall;
    l.others_cores = (busy_cpu_s - own) / wall;
    if (l.others_cores < 0) l.others_cores = 0;
    l.steal = (steal - p->steal) / dt;
    return l;
}

MachineLoad machine_load_sample(int ms) {
    MachineLoadProbe p;
    machine_load_begin(&p);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return machine_load_end(&p);
}

bool machine_load_busy(const MachineLoad *l) {
    /* other processes held half a core or more, or the hypervisor took a tenth of the time */
    return l->others_cores >= MACHINE_BUSY_CORES || l->steal >= MACHINE_BUSY_STEAL;
}

int machine_timing_threads(const MachineLoad *l, int threads) {
    int want = threads > 0 ? threads : l->cores;
    if (!machine_load_busy(l) || l->others_cores < 0) return want;
    /* the cores the others leave free, rounded down; at least one */
    int free_cores = (int)((double)l->cores - l->others_cores + 0.25);
    if (free_cores < 1) free_cores = 1;
    return want < free_cores ? want : free_cores;
}

int load_threads_now(LoadThreads *t, int want) {
    if (want == 1) return 1;
    if (!t->looking) {
        machine_load_begin(&t->probe);
        t->looking = true;
        t->threads = want;
        return want;
    }
    if (clock_s(CLOCK_MONOTONIC) - t->probe.wall_s < LOAD_THREADS_WINDOW_S) return t->threads ? t->threads : want;
    MachineLoad l = machine_load_end(&t->probe);
    t->threads = machine_timing_threads(&l, want);
    machine_load_begin(&t->probe);
    return t->threads;
}
