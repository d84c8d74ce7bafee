/* Framing of the flash-controller link: CRC-16/CCITT-FALSE, COBS, header checks.
 * Written by hand because the firmware has no library to lean on; the host build is tested
 * byte for byte against vectors/frames.txt, which the Python codec (cobs package, binascii)
 * also passes. Check order matches codec.py: size, CRC, length, version. */
#include "proto.h"

uint16_t proto_crc16(const uint8_t *data, size_t n) {
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)data[i] << 8;
        for (uint8_t b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

size_t proto_cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
    size_t code_at = 0, o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        } else {
            out[o++] = in[i];
            if (++code == 0xFF) {
                out[code_at] = code;
                code_at = o++;
                code = 1;
                if (i + 1 == n) { /* a full block at the very end needs no extra code */
                    o--;
                    return o;
                }
            }
        }
    }
    out[code_at] = code;
    return o;
}

int proto_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t code = in[i++];
        if (code == 0) return -1;
        for (uint8_t k = 1; k < code; k++) {
            if (i >= n || in[i] == 0 || o >= cap) return -1;
            out[o++] = in[i++];
        }
        if (code != 0xFF && i < n) {
            if (o >= cap) return -1;
            out[o++] = 0;
        }
    }
    return (int)o;
}

size_t proto_encode(const frame_t *f, uint8_t *wire) {
    uint8_t body[PROTO_MAX_BODY];
    uint8_t len = f->len > PROTO_MAX_PAYLOAD ? PROTO_MAX_PAYLOAD : f->len;
    body[0] = f->version;
    body[1] = f->type;
    body[2] = f->seq;
    body[3] = len;
    for (uint8_t i = 0; i < len; i++) body[PROTO_HEADER + i] = f->payload[i];
    uint16_t crc = proto_crc16(body, PROTO_HEADER + len);
    body[PROTO_HEADER + len] = (uint8_t)(crc >> 8);
    body[PROTO_HEADER + len + 1] = (uint8_t)crc;
    size_t n = proto_cobs_encode(body, PROTO_MIN_BODY + len, wire);
    wire[n++] = 0;
    return n;
}

int proto_decode(const uint8_t *wire, size_t n, frame_t *f) {
    uint8_t body[PROTO_MAX_BODY];
    if (n > 0 && wire[n - 1] == 0) n--;
    if (n > PROTO_MAX_WIRE) return PROTO_DROP;
    for (size_t i = 0; i < n; i++)
        if (wire[i] == 0) return PROTO_DROP;
    int m = proto_cobs_decode(wire, n, body, sizeof body);
    if (m < PROTO_MIN_BODY) return PROTO_DROP;
    f->version = body[0];
    f->type = body[1];
    f->seq = body[2];
    f->len = body[3];
    uint16_t crc = (uint16_t)((body[m - 2] << 8) | body[m - 1]);
    if (proto_crc16(body, (size_t)m - 2) != crc) return NAK_BAD_CRC;
    if (f->len != m - PROTO_MIN_BODY || f->len > PROTO_MAX_PAYLOAD) return NAK_BAD_LENGTH;
    if (f->version != PROTO_VERSION) return NAK_BAD_VERSION;
    for (uint8_t i = 0; i < f->len; i++) f->payload[i] = body[PROTO_HEADER + i];
    return PROTO_OK;
}
