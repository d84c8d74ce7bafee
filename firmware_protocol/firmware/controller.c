/* Flash controller state machine in C; the reference is firmware_protocol/controller.py. */
#include "controller.h"

#include "proto.h"

enum { T_HELLO = 1, T_STATUS, T_ARM, T_DISARM, T_FIRE, T_SET, T_HEARTBEAT,
       T_ACK = 0x80, T_NAK = 0x81, T_FIRED = 0x90, T_READY = 0x91, T_FAULT = 0x92 };
enum { FAULT_HEARTBEAT_LOST = 1, FAULT_XSYNC_UNARMED = 2 };
enum { KEY_RECYCLE_MS = 1, KEY_MAX_FIRES = 2, KEY_HEARTBEAT_MS = 3 };

#define RATE_WINDOW 600 /* largest max_fires_per_minute */
#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0

static const ctl_hal_t *hal;
static uint8_t rx[PROTO_MAX_WIRE + 1];
static uint8_t rx_n, rx_overflow;
static uint8_t negotiated, armed = CTL_NONE, power, last_fault, event_seq;
static uint16_t max_fires = 120, heartbeat_ms = 1000;
/* The recycle interval kept in microseconds (SET gives milliseconds): the X-sync path
 * (PROTOCOL.md: the flash within 10 us of the edge) cannot afford the AVR's 32-bit multiply,
 * nor a shift by a variable count (a loop), hence BIT[] too. */
static uint32_t recycle_us = 150000UL;
static const uint8_t BIT[8] = {1, 2, 4, 8, 16, 32, 64, 128};
static uint32_t last_fire_us[CTL_CHANNELS], last_rx_us, start_us;
static uint8_t fired_ever, ready_pending;
static uint32_t fire_log[16]; /* start times of recent fires, ms, ring (rate limit) */
static uint8_t fire_log_n, fire_log_at;
static uint8_t have_last, last_seq, last_type;
static frame_t last_reply;
static volatile uint8_t xsync_channel = CTL_NONE, xsync_unarmed;
static uint32_t xsync_t_us;

static void send_frame(const frame_t *f) {
    uint8_t wire[PROTO_MAX_WIRE];
    size_t n = proto_encode(f, wire);
    hal->send(wire, n);
}

static void event(uint8_t type, const uint8_t *p, uint8_t len) {
    frame_t f = {PROTO_VERSION, type, ++event_seq, len, {0}};
    for (uint8_t i = 0; i < len; i++) f.payload[i] = p[i];
    send_frame(&f);
}

static void reply(frame_t *out, uint8_t seq, uint8_t type, const uint8_t *p, uint8_t len) {
    out->version = PROTO_VERSION;
    out->type = type;
    out->seq = seq;
    out->len = len;
    for (uint8_t i = 0; i < len; i++) out->payload[i] = p[i];
}

static void nak(frame_t *out, uint8_t seq, uint8_t acked, uint8_t code) {
    uint8_t p[2] = {acked, code};
    reply(out, seq, T_NAK, p, 2);
}

static uint8_t fires_last_minute(uint32_t now_ms) {
    uint8_t n = 0;
    for (uint8_t i = 0; i < fire_log_n; i++)
        if (now_ms - fire_log[i] < 60000UL) n++;
    return n;
}

volatile uint8_t ctl_xsync_ready = CTL_NONE;
/* Bumped, with ctl_xsync_ready cleared, by whatever changes what an X-sync may fire. */
static volatile uint8_t state_gen;
static uint8_t plan_gen;

static void invalidate(void) {
    ctl_xsync_ready = CTL_NONE;
    state_gen++;
}

/* Why channel ch may not fire at `now` (NAK code), or 0: recycling, or the rate limit. */
static uint8_t refusal(uint8_t ch, uint32_t now) {
    if ((fired_ever & BIT[ch]) && now - last_fire_us[ch] < recycle_us) return NAK_NOT_READY;
    /* The ring holds the last 16 fires: enough to enforce limits up to 16/min exactly; above
     * that the limit is enforced on the recycle interval, which bounds the rate anyway. */
    if (max_fires <= 16 && fires_last_minute(now / 1000UL) >= max_fires) return NAK_RATE_LIMIT;
    return 0;
}

/* Fires channel ch if allowed. Returns 0 or the NAK code. */
static uint8_t try_fire(uint8_t ch, uint8_t pw, uint32_t now) {
    uint8_t code = refusal(ch, now);
    if (code) return code;
    hal->fire(ch, pw);
    last_fire_us[ch] = now;
    fired_ever |= BIT[ch];
    ready_pending |= BIT[ch];
    fire_log[fire_log_at] = now / 1000UL;
    fire_log_at = (uint8_t)((fire_log_at + 1) % 16);
    if (fire_log_n < 16) fire_log_n++;
    return 0;
}

static void fired_event(uint8_t ch, uint32_t t_us) {
    uint32_t t = t_us - start_us;
    uint8_t p[5] = {ch, (uint8_t)t, (uint8_t)(t >> 8), (uint8_t)(t >> 16), (uint8_t)(t >> 24)};
    event(T_FIRED, p, 5);
}

static const uint8_t payload_len[8] = {0xFF, 2, 0, 2, 0, 1, 3, 0};

static void handle(const frame_t *f) {
    frame_t out;
    uint8_t fired_ch = CTL_NONE;
    invalidate(); /* first: this command may arm, disarm, fire or set */
    last_rx_us = hal->now_us();
    if (f->type < T_HELLO || f->type > T_HEARTBEAT) {
        nak(&out, f->seq, f->type, NAK_UNKNOWN_TYPE);
        send_frame(&out);
        return;
    }
    if (f->len != payload_len[f->type]) {
        nak(&out, f->seq, f->type, NAK_BAD_LENGTH);
        send_frame(&out);
        return;
    }
    if (have_last && f->seq == last_seq && f->type == last_type) {
        send_frame(&last_reply); /* a retry: answer again, never act again */
        return;
    }
    const uint8_t *p = f->payload;
    if (!negotiated && f->type != T_HELLO) {
        nak(&out, f->seq, f->type, NAK_NO_HELLO);
    } else {
        uint8_t ackp[12] = {f->type};
        uint8_t n = 1;
        uint8_t code = 0;
        switch (f->type) {
        case T_HELLO: {
            uint8_t v = p[1] < PROTO_VERSION ? p[1] : PROTO_VERSION;
            if (v < p[0] || v < 1) {
                code = NAK_BAD_VERSION;
                break;
            }
            negotiated = 1;
            armed = CTL_NONE;
            last_fault = 0;
            ackp[1] = v; ackp[2] = FW_MAJOR; ackp[3] = FW_MINOR; ackp[4] = FW_PATCH;
            ackp[5] = CTL_CHANNELS;
            n = 6;
            break;
        }
        case T_STATUS: {
            uint32_t now = hal->now_us();
            uint8_t ready = 0;
            for (uint8_t c = 0; c < CTL_CHANNELS; c++)
                if (!(fired_ever >> c & 1) || now - last_fire_us[c] >= recycle_us)
                    ready |= (uint8_t)(1 << c);
            uint32_t up = (now - start_us) / 1000UL;
            ackp[1] = armed == CTL_NONE ? 0 : 1;
            ackp[2] = armed; ackp[3] = power; ackp[4] = ready;
            ackp[5] = fires_last_minute(now / 1000UL); ackp[6] = last_fault;
            ackp[7] = (uint8_t)up; ackp[8] = (uint8_t)(up >> 8);
            ackp[9] = (uint8_t)(up >> 16); ackp[10] = (uint8_t)(up >> 24);
            n = 11;
            break;
        }
        case T_ARM:
            if (p[0] >= CTL_CHANNELS) { code = NAK_BAD_CHANNEL; break; }
            armed = p[0];
            power = p[1];
            break;
        case T_DISARM:
            armed = CTL_NONE;
            break;
        case T_FIRE:
            if (p[0] >= CTL_CHANNELS) { code = NAK_BAD_CHANNEL; break; }
            code = try_fire(p[0], 255, hal->now_us());
            if (!code) fired_ch = p[0];
            break;
        case T_SET: {
            uint16_t v = (uint16_t)(p[1] | p[2] << 8);
            if (p[0] == KEY_RECYCLE_MS && v >= 50 && v <= 10000) recycle_us = (uint32_t)v * 1000UL;
            else if (p[0] == KEY_MAX_FIRES && v >= 1 && v <= 600) max_fires = v;
            else if (p[0] == KEY_HEARTBEAT_MS && v >= 200 && v <= 10000) heartbeat_ms = v;
            else code = NAK_BAD_VALUE;
            break;
        }
        default: /* HEARTBEAT */
            break;
        }
        if (code) nak(&out, f->seq, f->type, code);
        else reply(&out, f->seq, T_ACK, ackp, n);
    }
    have_last = 1;
    last_seq = f->seq;
    last_type = f->type;
    last_reply = out;
    send_frame(&out);
    if (fired_ch != CTL_NONE) fired_event(fired_ch, last_fire_us[fired_ch]);
}

void ctl_init(const ctl_hal_t *h) {
    hal = h;
    start_us = last_rx_us = hal->now_us();
}

void ctl_rx_byte(uint8_t b) {
    if (b != 0) {
        if (rx_n < sizeof rx) rx[rx_n++] = b;
        else rx_overflow = 1;
        return;
    }
    if (rx_n > 0 && !rx_overflow) {
        frame_t f;
        int r = proto_decode(rx, rx_n, &f);
        if (r == PROTO_OK) {
            handle(&f);
        } else if (r > 0) {
            frame_t out;
            nak(&out, f.seq, f.type, (uint8_t)r); /* never acted on */
            send_frame(&out);
        }
    }
    rx_n = 0;
    rx_overflow = 0;
}

uint8_t ctl_xsync_plan(void) {
    plan_gen = state_gen;
    uint8_t ch = armed;
    if (ch == CTL_NONE || refusal(ch, hal->now_us())) return CTL_NONE;
    return ch; /* time only makes recycle and rate limit more permissive until state_gen moves */
}

void ctl_xsync_commit(uint8_t ch) {
    if (plan_gen == state_gen) ctl_xsync_ready = ch;
}

uint8_t ctl_xsync(void) { return ctl_xsync_at(hal->now_us()); }

uint8_t ctl_xsync_at(uint32_t t_us) {
    invalidate();
    if (armed == CTL_NONE) {
        xsync_unarmed = 1;
        return CTL_NONE;
    }
    uint8_t ch = armed;
    armed = CTL_NONE;
    if (try_fire(ch, power, t_us)) return CTL_NONE;
    xsync_channel = ch;
    xsync_t_us = last_fire_us[ch];
    return ch;
}

void ctl_xsync_report(void) {
    if (xsync_channel != CTL_NONE) {
        fired_event(xsync_channel, xsync_t_us);
        xsync_channel = CTL_NONE;
    }
    if (xsync_unarmed) {
        uint8_t code = FAULT_XSYNC_UNARMED;
        xsync_unarmed = 0;
        last_fault = code;
        event(T_FAULT, &code, 1);
    }
}

void ctl_poll(void) {
    uint32_t now = hal->now_us();
    for (uint8_t c = 0; c < CTL_CHANNELS; c++) {
        if ((ready_pending >> c & 1) && now - last_fire_us[c] >= recycle_us) {
            ready_pending &= (uint8_t)~(1 << c);
            event(T_READY, &c, 1);
        }
    }
    if (armed != CTL_NONE && now - last_rx_us > (uint32_t)heartbeat_ms * 1000UL) {
        uint8_t code = FAULT_HEARTBEAT_LOST;
        invalidate();
        armed = CTL_NONE;
        last_fault = code;
        event(T_FAULT, &code, 1);
    }
}

uint8_t ctl_armed(void) { return armed; }
