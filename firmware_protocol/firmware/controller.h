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
void ctl_xsync_report(void);
uint8_t ctl_armed(void);

#endif
