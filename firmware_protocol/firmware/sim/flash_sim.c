/* flash-sim: the flash controller's firmware in simavr, its UART0 on a pseudo-terminal.
 *
 *   flash-sim --elf build/flash.elf [--hex FILE] [--mcu atmega328p] [--freq 16000000]
 *             [--speed 1 | --free] [--no-reset-on-open] [--drop F] [--corrupt F] [--seed N]
 *             [--keep] [--die-with-parent]
 *
 * The AVR runs paced to the wall clock (--speed 1, the default) so the firmware's timeouts,
 * recycle intervals and heartbeat watchdog behave as on the board; --free runs it as fast as
 * the host allows. UART0 is bridged to a pty (raw, one slave fd kept open by the harness so the
 * pty never hangs up); bytes from the host are fed to the UART as its XON/XOFF lines allow.
 * Opening the pty resets the AVR, as the Uno's DTR auto-reset does (--no-reset-on-open).
 * --drop and --corrupt lose or bit-flip that fraction of bytes in both directions.
 *
 * Control, one line each way (cycles are AVR cycles since the harness started):
 *   stdout: sim <mcu> <freq> <speed>        first, once
 *           pty <path>                      then, when the pty is ready to open
 *           edge <pin> <0|1> <cycle>        PB0..PB4 (flashes 0..4), PB5 (LED), PD2 (X-sync)
 *           xsync <cycle>                   X-sync pulled low (the camera's contact closes)
 *           xsync done <cycle>              the window after it has elapsed: its edges came first
 *           reset <cmd|open|signal> <cycle> the AVR was reset
 *           open <cycle> / close <cycle>    a client opened / closed the pty
 *           sync <cycle>                    answer to `sync`: every earlier event was reported
 *           speed <x>                       answer to `speed`
 *           stats cycle=... ...             answer to `stats`
 *           halt <state> <cycle>            the AVR stopped (crashed, or slept with cli)
 *           error <text>                    a command was not understood
 *   stdin:  xsync [low_us [window_us]]      pull PD2 low for low_us (10), done after window_us
 *                                           (100) of AVR time from the falling edge
 *           reset | sync | stats | speed <x, 0 = free> | quit
 * The harness exits on `quit`, on stdin EOF (unless --keep), on SIGTERM/SIGINT/SIGHUP, and
 * with --die-with-parent when its parent (thread) exits. SIGUSR1 resets the AVR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avr_ioport.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_hex.h"

#define LEAD_S 0.001      /* real time: the AVR runs at most this far ahead of the wall clock */
#define SLICE_S 0.001     /* AVR time run between two looks at the pty and stdin */
#define MAX_LAG_S 0.05    /* further behind than this, the AVR's clock gives up catching up */
#define INBUF 4096

static avr_t *avr;
static double freq_hz, speed = 1.0;
static int master = -1, slave = -1, inotify_fd = -1;
static char slave_path[64];

/* host -> AVR */
static uint8_t inbuf[INBUF];
static size_t in_head, in_len;
static int rx_ok; /* the UART's XON: it takes bytes */
static avr_irq_t *uart_in;

/* AVR -> host */
static uint8_t txbuf[INBUF];
static size_t tx_len;
static unsigned long tx_dropped;

/* faults */
static double drop_p, corrupt_p;
static uint64_t rng = 88172645463325252ULL;

/* pins */
enum { N_PINS = 7 };
static const char *pin_name[N_PINS] = {"PB0", "PB1", "PB2", "PB3", "PB4", "PB5", "PD2"};
static int pin_state[N_PINS];
static avr_irq_t *xsync_irq;

/* X-sync */
static int xsync_busy, xsync_low;
static avr_cycle_count_t xsync_low_cycles, xsync_window_cycles;

/* pacing */
static double base_wall;
static avr_cycle_count_t base_cycle;
static unsigned long rebases;
static int halted;

static volatile sig_atomic_t want_exit, want_reset;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("flash-sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static double rnd(void) { /* xorshift64* in [0, 1) */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Applies --drop/--corrupt to one byte; returns -1 when it is lost. */
static int noisy(uint8_t b) {
    if (!(drop_p > 0 || corrupt_p > 0)) return b;
    double r = rnd();
    if (r < drop_p) return -1;
    if (r < drop_p + corrupt_p) b ^= (uint8_t)(1u << (int)(rnd() * 8));
    return b;
}

/* simavr's log goes to stderr: stdout is the control channel. */
static void logger(avr_t *a, const int level, const char *fmt, va_list ap) {
    if (level > (a ? a->log : LOG_ERROR)) return;
    vfprintf(stderr, fmt, ap);
}

/* ---- UART <-> pty -------------------------------------------------------------------- */

static void feed_uart(void) {
    while (rx_ok && in_len) {
        uint8_t b = inbuf[in_head];
        in_head = (in_head + 1) % INBUF;
        in_len--;
        avr_raise_irq(uart_in, b); /* may raise XOFF, which clears rx_ok */
    }
}

static void uart_out_hook(avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    int b = noisy((uint8_t)value);
    if (b < 0) return;
    if (tx_len < sizeof txbuf) txbuf[tx_len++] = (uint8_t)b;
    else tx_dropped++;
}

static void uart_xon_hook(avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)value;
    (void)param;
    rx_ok = 1;
    feed_uart();
}

static void uart_xoff_hook(avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    if (value) rx_ok = 0;
}

static void flush_tx(void) {
    size_t done = 0;
    while (done < tx_len) {
        ssize_t n = write(master, txbuf + done, tx_len - done);
        if (n > 0) {
            done += (size_t)n;
        } else {
            if (n < 0 && errno == EINTR) continue;
            tx_dropped += tx_len - done; /* nobody reads the pty: a UART drops bytes too */
            break;
        }
    }
    tx_len = 0;
}

static void read_master(void) {
    uint8_t buf[512];
    size_t room = INBUF - in_len;
    if (!room) return;
    ssize_t n = read(master, buf, room < sizeof buf ? room : sizeof buf);
    for (ssize_t i = 0; i < n; i++) {
        int b = noisy(buf[i]);
        if (b < 0) continue;
        inbuf[(in_head + in_len) % INBUF] = (uint8_t)b;
        in_len++;
    }
    feed_uart();
}

static void open_pty(void) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (master < 0 || grantpt(master) || unlockpt(master)) die("posix_openpt: %s", strerror(errno));
    const char *name = ptsname(master);
    if (!name) die("ptsname: %s", strerror(errno));
    snprintf(slave_path, sizeof slave_path, "%s", name);
    /* Raw mode before the AVR writes anything, on a slave fd kept open for the harness's
     * life: the pty then never hangs up between two clients, and keeps its settings. */
    slave = open(slave_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (slave < 0) die("open %s: %s", slave_path, strerror(errno));
    struct termios t;
    tcgetattr(slave, &t);
    cfmakeraw(&t);
    cfsetspeed(&t, B115200);
    tcsetattr(slave, TCSANOW, &t);
    tcgetattr(master, &t);
    cfmakeraw(&t);
    tcsetattr(master, TCSANOW, &t);
}

/* ---- pins ---------------------------------------------------------------------------- */

static void pin_hook(avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    int i = (int)(intptr_t)param;
    int v = value ? 1 : 0;
    if (v == pin_state[i]) return;
    pin_state[i] = v;
    out("edge %s %d %llu", pin_name[i], v, (unsigned long long)avr->cycle);
}

static avr_cycle_count_t xsync_release(avr_t *a, avr_cycle_count_t when, void *param) {
    (void)a;
    (void)when;
    (void)param;
    xsync_low = 0;
    avr_raise_irq(xsync_irq, 1); /* the contact opens: the pull-up wins */
    return 0;
}

static avr_cycle_count_t xsync_done(avr_t *a, avr_cycle_count_t when, void *param) {
    (void)a;
    (void)when;
    (void)param;
    xsync_busy = 0;
    out("xsync done %llu", (unsigned long long)avr->cycle);
    return 0;
}

static void xsync(double low_us, double window_us) {
    if (xsync_busy) {
        out("error xsync busy");
        return;
    }
    if (halted) {
        out("xsync %llu", (unsigned long long)avr->cycle);
        out("xsync done %llu", (unsigned long long)avr->cycle);
        return;
    }
    xsync_busy = xsync_low = 1;
    xsync_low_cycles = (avr_cycle_count_t)(low_us * freq_hz / 1e6);
    xsync_window_cycles = (avr_cycle_count_t)(window_us * freq_hz / 1e6);
    if (xsync_low_cycles < 1) xsync_low_cycles = 1;
    if (xsync_window_cycles < xsync_low_cycles) xsync_window_cycles = xsync_low_cycles;
    out("xsync %llu", (unsigned long long)avr->cycle);
    avr_raise_irq(xsync_irq, 0); /* the camera shorts X-sync to ground */
    avr_cycle_timer_register(avr, xsync_low_cycles, xsync_release, NULL);
    avr_cycle_timer_register(avr, xsync_window_cycles, xsync_done, NULL);
}

/* ---- the AVR ------------------------------------------------------------------------- */

static void sleep_hook(avr_t *a, avr_cycle_count_t how_long) {
    (void)a;
    (void)how_long; /* the harness paces the AVR itself */
}

static void uart_quiet(void) {
    uint32_t flags = 0; /* no echo of the UART on stdout, no usleep on status reads */
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
}

static void reset_avr(const char *cause) {
    avr_reset(avr);
    uart_quiet();
    rx_ok = 0; /* bytes wait for the firmware to enable its receiver (XON) */
    halted = 0;
    tx_len = 0;
    for (int i = 0; i < 6; i++) /* the outputs float (optocouplers off) until the firmware
                                 * drives them again */
        if (pin_state[i]) {
            pin_state[i] = 0;
            out("edge %s 0 %llu", pin_name[i], (unsigned long long)avr->cycle);
        }
    if (xsync_busy) { /* reset cancelled the X-sync's timers */
        xsync_busy = 0;
        if (xsync_low) avr_raise_irq(xsync_irq, 1);
        xsync_low = 0;
        out("xsync done %llu", (unsigned long long)avr->cycle);
    }
    base_wall = mono();
    base_cycle = avr->cycle;
    out("reset %s %llu", cause, (unsigned long long)avr->cycle);
}

static void load(const char *elf, const char *hex, const char *mcu) {
    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf && elf_read_firmware(elf, &fw)) die("cannot read firmware %s", elf);
    avr = avr_make_mcu_by_name(mcu);
    if (!avr) die("simavr does not know the MCU %s", mcu);
    avr_init(avr);
    avr->log = LOG_ERROR;
    avr->frequency = (uint32_t)freq_hz;
    avr->sleep = sleep_hook;
    if (elf) {
        /* MCU and clock come from the command line: the board's ELF has no .mmcu tag */
        snprintf(fw.mmcu, sizeof fw.mmcu, "%s", mcu);
        fw.frequency = (uint32_t)freq_hz;
        avr_load_firmware(avr, &fw);
    } else {
        ihex_chunk_p chunks = NULL;
        int n = read_ihex_chunks(hex, &chunks);
        if (n <= 0) die("cannot read firmware %s", hex);
        for (int i = 0; i < n; i++)
            if (chunks[i].baseaddr < (1 << 20)) /* flash; the rest (eeprom, fuses) is ignored */
                avr_loadcode(avr, chunks[i].data, chunks[i].size, chunks[i].baseaddr);
        free_ihex_chunks(chunks);
    }
    avr->frequency = (uint32_t)freq_hz;
    uart_quiet();

    uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
                            uart_out_hook, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON),
                            uart_xon_hook, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF),
                            uart_xoff_hook, NULL);
    for (int i = 0; i < 6; i++)
        avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), i), pin_hook,
                                (void *)(intptr_t)i);
    xsync_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 2);
    avr_irq_register_notify(xsync_irq, pin_hook, (void *)(intptr_t)6);
    pin_state[6] = 1; /* reported as it is seen: high once the firmware enables its pull-up */
}

static void run_slice(avr_cycle_count_t limit) {
    while (!halted && avr->cycle < limit) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            halted = 1;
            out("halt %s %llu", state == cpu_Done ? "done" : "crashed",
                (unsigned long long)avr->cycle);
        }
    }
}

/* ---- control ------------------------------------------------------------------------- */

static char cmdbuf[256];
static size_t cmd_len;

static void command(char *line) {
    char word[32] = "";
    double a = 10, b = 100;
    int n = sscanf(line, "%31s %lf %lf", word, &a, &b);
    if (n < 1) return;
    if (!strcmp(word, "xsync")) {
        xsync(a, b);
    } else if (!strcmp(word, "reset")) {
        reset_avr("cmd");
    } else if (!strcmp(word, "sync")) {
        out("sync %llu", (unsigned long long)avr->cycle);
    } else if (!strcmp(word, "speed")) {
        if (n < 2 || a < 0) {
            out("error speed needs a factor, 0 (free-running) or more");
            return;
        }
        speed = a;
        base_wall = mono();
        base_cycle = avr->cycle;
        out("speed %g", speed);
    } else if (!strcmp(word, "stats")) {
        out("stats cycle=%llu speed=%g rebases=%lu tx_dropped=%lu pending=%zu",
            (unsigned long long)avr->cycle, speed, rebases, tx_dropped, in_len);
    } else if (!strcmp(word, "quit")) {
        want_exit = 1;
    } else {
        out("error unknown command: %s", word);
    }
}

/* Returns 0 on EOF. */
static int read_stdin(void) {
    char buf[512];
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            cmdbuf[cmd_len] = 0;
            command(cmdbuf);
            cmd_len = 0;
        } else if (cmd_len < sizeof cmdbuf - 1) {
            cmdbuf[cmd_len++] = buf[i];
        }
    }
    return 1;
}

static int reset_on_open = 1;

static void read_inotify(void) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n = read(inotify_fd, buf, sizeof buf);
    for (char *p = buf; n > 0 && p < buf + n;) {
        struct inotify_event *ev = (struct inotify_event *)p;
        if (ev->mask & IN_OPEN) {
            out("open %llu", (unsigned long long)avr->cycle);
            tcflush(slave, TCIFLUSH); /* what the AVR sent to nobody is not the client's */
            if (reset_on_open) reset_avr("open");
        }
        if (ev->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE))
            out("close %llu", (unsigned long long)avr->cycle);
        p += sizeof *ev + ev->len;
    }
}

static void on_signal(int sig) {
    if (sig == SIGUSR1) want_reset = 1;
    else want_exit = 1;
}

static void usage(void) {
    fputs("usage: flash-sim (--elf FILE | --hex FILE) [--mcu NAME] [--freq HZ] [--speed X | "
          "--free]\n                 [--no-reset-on-open] [--drop F] [--corrupt F] [--seed N] "
          "[--keep]\n                 [--die-with-parent]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    const char *elf = NULL, *hex = NULL, *mcu = "atmega328p";
    int keep = 0, die_with_parent = 0;
    unsigned long long seed = 0;
    int seeded = 0;
    freq_hz = 16e6;
    static const struct option opts[] = {
        {"elf", required_argument, 0, 'e'},     {"hex", required_argument, 0, 'x'},
        {"mcu", required_argument, 0, 'm'},     {"freq", required_argument, 0, 'f'},
        {"speed", required_argument, 0, 's'},   {"free", no_argument, 0, 'F'},
        {"no-reset-on-open", no_argument, 0, 'R'}, {"drop", required_argument, 0, 'd'},
        {"corrupt", required_argument, 0, 'c'}, {"seed", required_argument, 0, 'S'},
        {"keep", no_argument, 0, 'k'},          {"die-with-parent", no_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'e': elf = optarg; break;
        case 'x': hex = optarg; break;
        case 'm': mcu = optarg; break;
        case 'f': freq_hz = atof(optarg); break;
        case 's': speed = atof(optarg); break;
        case 'F': speed = 0; break;
        case 'R': reset_on_open = 0; break;
        case 'd': drop_p = atof(optarg); break;
        case 'c': corrupt_p = atof(optarg); break;
        case 'S': seed = strtoull(optarg, NULL, 0); seeded = 1; break;
        case 'k': keep = 1; break;
        case 'P': die_with_parent = 1; break;
        default: usage();
        }
    }
    if ((!elf) == (!hex) || optind != argc || freq_hz < 1e5 || speed < 0) usage();
    if (die_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) return 0;
    }
    if (seeded) rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    else rng ^= (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

    sigset_t block, orig;
    sigemptyset(&block);
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&block, sigs[i]);
    }
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, &block, &orig); /* delivered only inside ppoll() */

    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    avr_global_logger_set(logger);
    load(elf, hex, mcu);
    open_pty();
    inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd >= 0 &&
        inotify_add_watch(inotify_fd, slave_path, IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) < 0) {
        close(inotify_fd);
        inotify_fd = -1;
    }
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);

    out("sim %s %.0f %g", mcu, freq_hz, speed);
    out("pty %s", slave_path);
    fflush(stdout);
    base_wall = mono();
    base_cycle = avr->cycle;
    int stdin_open = 1;
    const avr_cycle_count_t slice = (avr_cycle_count_t)(SLICE_S * freq_hz);

    while (!want_exit) {
        if (want_reset) {
            want_reset = 0;
            reset_avr("signal");
        }
        if (!halted) {
            avr_cycle_count_t limit = avr->cycle + slice;
            if (speed > 0) {
                double ahead = (LEAD_S + (mono() - base_wall) * speed) * freq_hz;
                avr_cycle_count_t target = base_cycle + (avr_cycle_count_t)ahead;
                if (target > avr->cycle + (avr_cycle_count_t)(MAX_LAG_S * freq_hz)) {
                    /* the host could not keep up: let the AVR's clock fall behind the wall's
                     * rather than run it in a burst */
                    rebases++;
                    base_wall = mono();
                    base_cycle = avr->cycle;
                    target = avr->cycle + (avr_cycle_count_t)(LEAD_S * freq_hz);
                }
                if (target < limit) limit = target;
            }
            run_slice(limit);
        }
        flush_tx();
        fflush(stdout);

        struct pollfd fds[4];
        int n = 0;
        fds[n++] = (struct pollfd){.fd = master, .events = in_len < INBUF ? POLLIN : 0};
        int i_stdin = -1, i_inotify = -1;
        if (stdin_open) {
            i_stdin = n;
            fds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
        }
        if (inotify_fd >= 0) {
            i_inotify = n;
            fds[n++] = (struct pollfd){.fd = inotify_fd, .events = POLLIN};
        }
        struct timespec ts = {0, 0}, *tp = &ts;
        if (halted) {
            tp = NULL;
        } else if (speed > 0) {
            double wait = (double)(avr->cycle - base_cycle) / (freq_hz * speed) -
                          (mono() - base_wall) - LEAD_S / 2;
            if (wait > 0) {
                ts.tv_sec = (time_t)wait;
                ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
            }
        }
        int r = ppoll(fds, (nfds_t)n, tp, &orig);
        if (r <= 0) continue;
        if (i_inotify >= 0 && (fds[i_inotify].revents & POLLIN)) read_inotify();
        if (fds[0].revents & POLLIN) read_master();
        if (i_stdin >= 0 && (fds[i_stdin].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (!read_stdin()) {
                stdin_open = 0;
                if (!keep) want_exit = 1;
            }
        }
    }
    fflush(stdout);
    close(slave);
    close(master);
    return 0;
}
