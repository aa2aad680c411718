/* interrupt.c - Ctrl-C during a long optimization (see cli.h): the first SIGINT only sets a
 * flag that the progress callback hands to the library (the search stops, its best graph so
 * far is measured and written); SA_RESETHAND puts the default action back at once, so a
 * second Ctrl-C ends the process as usual. The library installs no handler itself. */
#include <signal.h>
#include <string.h>

#include "cli.h"

static volatile sig_atomic_t interrupted;
static struct sigaction previous;
static bool installed;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

void cli_interrupt_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    interrupted = 0;
    installed = sigaction(SIGINT, &sa, &previous) == 0;
}

void cli_interrupt_remove(void) {
    if (installed) sigaction(SIGINT, &previous, NULL);
    installed = false;
}

bool cli_interrupted(void) { return interrupted != 0; }
