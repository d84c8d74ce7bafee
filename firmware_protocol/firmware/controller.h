/* The flash controller's state machine (PROTOCOL.md, "Behaviour"); mirrors controller.py.
 * Hardware-independent: the board provides a clock, the flash outputs and the UART. */
#ifndef CONTROLLER_H
#define CONTROLLER_H

#include <stddef.h>
#include <stdint.h>

#define CTL_CHANNELS 5
#define CTL_NONE 0xFF

typedef struct {
    uint32_t (*now_us)(void);                       /* free-running microseconds */
    void (*fire)(uint8_t channel, uint8_t power);   /* pulse one flash output */
    void (*send)(const uint8_t *data, size_t n);    /* UART transmit */
} ctl_hal_t;

void ctl_init(const ctl_hal_t *hal);
void ctl_rx_byte(uint8_t b);  /* from the UART receive path */
void ctl_poll(void);          /* main loop: READY events, heartbeat watchdog */
/* Camera X-sync: fires the armed channel (if ready) and disarms. Returns the channel fired
 * or CTL_NONE; call ctl_xsync_report() from the main loop afterwards to send the event. */
uint8_t ctl_xsync(void);
/* The same, the flash fired at t_us (the board raised its pin itself, see ctl_xsync_ready). */
uint8_t ctl_xsync_at(uint32_t t_us);
void ctl_xsync_report(void);
/* The channel an X-sync now may fire (armed, recycled, within the rate limit), or CTL_NONE:
 * the board's X-sync interrupt raises that channel's output first, to meet PROTOCOL.md's
 * 10 us, and calls ctl_xsync_at() after. The controller clears it (a single byte store)
 * before anything that could make firing wrong (any command, the watchdog, an X-sync).
 * The main loop sets it in two steps: ch = ctl_xsync_plan() (interrupts on), then with
 * interrupts off ctl_xsync_commit(ch), which stores it only if nothing changed in between,
 * so interrupts are held off for a compare and a store, not for the checks. */
extern volatile uint8_t ctl_xsync_ready;
uint8_t ctl_xsync_plan(void);
void ctl_xsync_commit(uint8_t ch);
uint8_t ctl_armed(void);

#endif
