/* Flash-controller link, protocol version 1: framing (PROTOCOL.md, "Framing").
 * Plain C99 with no AVR dependencies, so the host compiles it for the test vectors. */
#ifndef PROTO_H
#define PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_HEADER 4
#define PROTO_MAX_PAYLOAD 32
#define PROTO_MIN_BODY (PROTO_HEADER + 2)
#define PROTO_MAX_BODY (PROTO_MIN_BODY + PROTO_MAX_PAYLOAD)
#define PROTO_MAX_WIRE (PROTO_MAX_BODY + 2) /* COBS overhead (1 byte per 254) + delimiter */

/* Decode results: 0 ok; > 0 the NAK code to answer with; < 0 drop silently. */
#define PROTO_OK 0
#define PROTO_DROP (-1)
#define NAK_BAD_CRC 1
#define NAK_UNKNOWN_TYPE 2
#define NAK_BAD_LENGTH 3
#define NAK_BAD_CHANNEL 4
#define NAK_NOT_READY 5
#define NAK_RATE_LIMIT 6
#define NAK_BAD_VERSION 7
#define NAK_BAD_VALUE 8
#define NAK_NO_HELLO 9
#define NAK_FAULTED 10

typedef struct {
    uint8_t version, type, seq, len;
    uint8_t payload[PROTO_MAX_PAYLOAD];
} frame_t;

uint16_t proto_crc16(const uint8_t *data, size_t n);
/* COBS without delimiter; returns the encoded length (out needs n + n/254 + 1 bytes). */
size_t proto_cobs_encode(const uint8_t *in, size_t n, uint8_t *out);
/* Returns the decoded length, or -1 on a malformed encoding. */
int proto_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);
/* Frame <-> wire bytes (wire includes the 0x00 delimiter). */
size_t proto_encode(const frame_t *f, uint8_t *wire);
/* Decode one frame from wire bytes (trailing delimiter optional). On a NAK result the
 * header bytes as received are left in f->type and f->seq for the reply. */
int proto_decode(const uint8_t *wire, size_t n, frame_t *f);

#endif
