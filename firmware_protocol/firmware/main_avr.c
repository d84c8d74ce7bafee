/* ATmega328P (Arduino Uno class) board support: UART 115200 8N1, Timer1 microsecond clock,
 * X-sync on INT0 (PD2, falling edge), five flash outputs on PB0..PB4 (Uno pins 8..12),
 * status LED on PB5 (pin 13): off idle, on armed. */
#include <avr/interrupt.h>
#include <avr/io.h>

#include "controller.h"

#define FLASH_MASK 0x1F
#define LED (1 << PB5)
#define RXBUF 64

static volatile uint8_t rxbuf[RXBUF];
static volatile uint8_t rx_head, rx_tail;
static volatile uint32_t overflow_us; /* microseconds of the Timer1 overflows so far */

ISR(USART_RX_vect) {
    uint8_t b = UDR0;
    uint8_t next = (uint8_t)((rx_head + 1) % RXBUF);
    if (next != rx_tail) {
        rxbuf[rx_head] = b;
        rx_head = next;
    } /* else: dropped; the frame fails its CRC and the host resends */
}

/* Prescaler 8 at 16 MHz: 0.5 us per tick, so an overflow is 32768 us. Counted in us, not in
 * overflows: a 32-bit shift by 15 is a 90-cycle loop on the AVR, and now_us() runs between
 * the X-sync edge and the flash (PROTOCOL.md: within 10 us). */
#define OVERFLOW_US 32768UL

ISR(TIMER1_OVF_vect) { overflow_us += OVERFLOW_US; }

static uint32_t now_us(void) {
    uint8_t s = SREG;
    cli();
    uint16_t t = TCNT1;
    uint32_t o = overflow_us;
    if ((TIFR1 & (1 << TOV1)) && t < 0x8000) o += OVERFLOW_US;
    SREG = s;
    return o + (t >> 1);
}

/* The flash outputs, by channel: a table, not 1 << channel (a variable shift is a loop). */
static const uint8_t pin[CTL_CHANNELS] = {1 << PB0, 1 << PB1, 1 << PB2, 1 << PB3, 1 << PB4};
#define PULSE_TICKS 40 /* 20 us of Timer1 (0.5 us per tick) */
/* The X-sync interrupt pulses a ready channel itself, before the controller's bookkeeping
 * (which may take tens of microseconds: the rate limit divides 32-bit numbers), and sets
 * `pulsed` so that the controller's fire() of that channel does not pulse it twice. */
static volatile uint8_t pulsed;

static void pulse(uint8_t bit) {
    PORTB |= bit;
    uint16_t t0 = TCNT1;
    while ((uint16_t)(TCNT1 - t0) < PULSE_TICKS) {
    }
    PORTB &= (uint8_t)~bit;
}

static void fire(uint8_t channel, uint8_t power) {
    (void)power; /* optocoupled trigger: power is set on the flash head itself */
    uint8_t bit = pin[channel];
    if (pulsed != bit) pulse(bit);
}

static void send(const uint8_t *data, size_t n) {
    for (size_t i = 0; i < n; i++) {
        while (!(UCSR0A & (1 << UDRE0))) {
        }
        UDR0 = data[i];
    }
}

ISR(INT0_vect) {
    uint8_t ch = ctl_xsync_ready;
    if (ch < CTL_CHANNELS) { /* the flash first (PROTOCOL.md: within 10 us), then the books */
        uint8_t bit = pin[ch];
        uint32_t t = now_us();
        pulse(bit);
        pulsed = bit;
        ctl_xsync_at(t);
        pulsed = 0;
    } else {
        ctl_xsync();
    }
}

static const ctl_hal_t board = {now_us, fire, send};

int main(void) {
    DDRB |= FLASH_MASK | LED;
    PORTB &= (uint8_t)~(FLASH_MASK | LED);
    PORTD |= (1 << PD2); /* X-sync: pull-up, the camera shorts it to ground */
    UCSR0A = (1 << U2X0); /* double speed: 115200 baud is UBRR 16 (+2.1 %) at 16 MHz */
    UBRR0 = 16;
    UCSR0B = (1 << RXEN0) | (1 << TXEN0) | (1 << RXCIE0);
    UCSR0C = (1 << UCSZ01) | (1 << UCSZ00);
    TCCR1A = 0;
    TCCR1B = (1 << CS11);
    TIMSK1 = (1 << TOIE1);
    EICRA = (1 << ISC01); /* falling edge */
    EIMSK = (1 << INT0);
    ctl_init(&board);
    sei();
    for (;;) {
        while (rx_tail != rx_head) {
            uint8_t b = rxbuf[rx_tail];
            rx_tail = (uint8_t)((rx_tail + 1) % RXBUF);
            ctl_rx_byte(b);
        }
        ctl_xsync_report();
        ctl_poll();
        uint8_t ready = ctl_xsync_plan(); /* what an X-sync may fire at once */
        cli();
        ctl_xsync_commit(ready); /* unless an X-sync or the state moved meanwhile */
        sei();
        __asm__ volatile("nop"); /* an interrupt waits one instruction after sei */
        if (ctl_armed() != CTL_NONE) PORTB |= LED;
        else PORTB &= (uint8_t)~LED;
    }
}
