/* Host test of the C state machine with a fake board: the behaviours PROTOCOL.md requires
 * (hello first, idempotent retries, recycle refusal, X-sync one-shot, heartbeat disarm, bad
 * CRC never acted on). Prints "N passed, M failed". */
#include <stdio.h>
#include <string.h>

#include "controller.h"
#include "proto.h"

static uint32_t clock_us = 1000;
static int fires[CTL_CHANNELS];
static uint8_t out[4096];
static size_t out_n;
static int passed, failed;

static uint32_t now_us(void) { return clock_us; }
static void fire(uint8_t ch, uint8_t power) { (void)power; fires[ch]++; }
static void send(const uint8_t *d, size_t n) {
    memcpy(out + out_n, d, n);
    out_n += n;
}
static const ctl_hal_t hal = {now_us, fire, send};

#define CHECK(cond)                                                   \
    do {                                                              \
        if (cond) passed++;                                           \
        else { failed++; fprintf(stderr, "line %d: %s\n", __LINE__, #cond); } \
    } while (0)

/* Decodes the frames the controller has sent since the last call (up to 4). */
static int drain(frame_t *got) {
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i < out_n && k < 4; i++)
        if (out[i] == 0) {
            if (proto_decode(out + start, i - start + 1, &got[k]) == PROTO_OK) k++;
            start = i + 1;
        }
    out_n = 0;
    return k;
}

/* Sends a command (one byte flipped when ``flip``); returns the frames answered. */
static int exchange(uint8_t type, uint8_t seq, const uint8_t *p, uint8_t len, frame_t *got,
                    int flip) {
    frame_t f = {PROTO_VERSION, type, seq, len, {0}};
    uint8_t wire[PROTO_MAX_WIRE];
    if (len) memcpy(f.payload, p, len);
    size_t n = proto_encode(&f, wire);
    if (flip) wire[2] ^= 0x10;
    out_n = 0;
    for (size_t i = 0; i < n; i++) ctl_rx_byte(wire[i]);
    return drain(got);
}

int main(void) {
    frame_t r[4];
    uint8_t p[3];
    ctl_init(&hal);

    CHECK(exchange(0x02, 1, NULL, 0, r, 0) == 1 && r[0].type == 0x81 && r[0].payload[1] == NAK_NO_HELLO);
    p[0] = 1; p[1] = 1;
    CHECK(exchange(0x01, 2, p, 2, r, 0) == 1 && r[0].type == 0x80 && r[0].payload[1] == 1);
    p[0] = 1;
    CHECK(exchange(0x05, 3, p, 1, r, 0) == 2 && r[0].type == 0x80 && r[1].type == 0x90);
    CHECK(fires[1] == 1);
    CHECK(exchange(0x05, 3, p, 1, r, 0) == 1 && r[0].type == 0x80); /* retry: same reply */
    CHECK(fires[1] == 1);                                             /* ... and no second fire */
    CHECK(exchange(0x05, 4, p, 1, r, 0) == 1 && r[0].payload[1] == NAK_NOT_READY);
    CHECK(fires[1] == 1);
    clock_us += 200000;
    out_n = 0;
    ctl_poll();
    CHECK(drain(r) == 1 && r[0].type == 0x91 && r[0].payload[0] == 1);
    p[0] = 3; p[1] = 200;
    CHECK(exchange(0x03, 5, p, 2, r, 0) == 1 && r[0].type == 0x80 && ctl_armed() == 3);
    CHECK(ctl_xsync() == 3 && fires[3] == 1 && ctl_armed() == CTL_NONE);
    out_n = 0;
    ctl_xsync_report();
    CHECK(drain(r) == 1 && r[0].type == 0x90 && r[0].payload[0] == 3);
    CHECK(ctl_xsync() == CTL_NONE && fires[3] == 1);
    ctl_xsync_report();
    CHECK(drain(r) == 1 && r[0].type == 0x92 && r[0].payload[0] == 2);
    p[0] = 0; p[1] = 255;
    CHECK(exchange(0x03, 6, p, 2, r, 0) == 1 && ctl_armed() == 0);
    clock_us += 1500000;
    out_n = 0;
    ctl_poll();
    CHECK(ctl_armed() == CTL_NONE);
    int k = drain(r);
    CHECK(k >= 1 && r[k - 1].type == 0x92 && r[k - 1].payload[0] == 1);
    p[0] = 2;
    CHECK(exchange(0x05, 7, p, 1, r, 1) == 1 && r[0].type == 0x81 && r[0].payload[1] == NAK_BAD_CRC);
    CHECK(fires[2] == 0);
    CHECK(exchange(0x55, 8, NULL, 0, r, 0) == 1 && r[0].payload[1] == NAK_UNKNOWN_TYPE);
    CHECK(exchange(0x05, 9, NULL, 0, r, 0) == 1 && r[0].payload[1] == NAK_BAD_LENGTH);
    p[0] = 9;
    CHECK(exchange(0x05, 10, p, 1, r, 0) == 1 && r[0].payload[1] == NAK_BAD_CHANNEL);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
