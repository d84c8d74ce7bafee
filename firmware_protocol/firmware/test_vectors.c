/* Host test: the C codec against vectors/frames.txt, byte for byte.
 * Usage: test_vectors FRAMES_TXT; prints "N passed, M failed" and exits non-zero on failure. */
#include <stdio.h>
#include <string.h>

#include "proto.h"

static int hex2bin(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex);
    if (strcmp(hex, "-") == 0) return 0;
    if (n % 2 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return (int)(n / 2);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s frames.txt\n", argv[0]);
        return 2;
    }
    FILE *fp = fopen(argv[1], "r");
    if (!fp) {
        perror(argv[1]);
        return 2;
    }
    static char line[4096], a[2048], b[2048], c[2048];
    static uint8_t x[1024], y[1024], z[1024];
    int passed = 0, failed = 0, lineno = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char kind[8];
        unsigned ver, type, seq;
        int ok = 1;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (sscanf(line, "%7s", kind) != 1) continue;
        if (strcmp(kind, "crc") == 0 && sscanf(line, "%*s %2047s %2047s", a, b) == 2) {
            int n = hex2bin(a, x, sizeof x);
            unsigned want;
            sscanf(b, "%x", &want);
            ok = n >= 0 && proto_crc16(x, (size_t)n) == want;
        } else if (strcmp(kind, "cobs") == 0 && sscanf(line, "%*s %2047s %2047s", a, b) == 2) {
            int n = hex2bin(a, x, sizeof x), m = hex2bin(b, y, sizeof y);
            size_t e = proto_cobs_encode(x, (size_t)n, z);
            ok = (int)e == m && memcmp(z, y, e) == 0;
            int d = proto_cobs_decode(y, (size_t)m, z, sizeof z);
            ok = ok && d == n && memcmp(z, x, (size_t)n) == 0;
        } else if (strcmp(kind, "good") == 0 &&
                   sscanf(line, "%*s %2047s %u %u %u %2047s", a, &ver, &type, &seq, c) == 5) {
            int n = hex2bin(a, x, sizeof x), p = hex2bin(c, y, sizeof y);
            frame_t f;
            ok = proto_decode(x, (size_t)n, &f) == PROTO_OK && f.version == ver &&
                 f.type == type && f.seq == seq && f.len == p && memcmp(f.payload, y, (size_t)p) == 0;
            frame_t g = {(uint8_t)ver, (uint8_t)type, (uint8_t)seq, (uint8_t)p, {0}};
            memcpy(g.payload, y, (size_t)p);
            size_t e = proto_encode(&g, z);
            ok = ok && (int)e == n && memcmp(z, x, e) == 0;
        } else if (strcmp(kind, "bad") == 0 && sscanf(line, "%*s %2047s %u", a, &ver) == 2) {
            int n = hex2bin(a, x, sizeof x);
            frame_t f;
            int r = proto_decode(x, (size_t)n, &f);
            ok = ver == 0 ? r == PROTO_DROP : r == (int)ver;
        } else {
            ok = 0;
        }
        if (ok) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "%s:%d: FAILED: %s", argv[1], lineno, line);
        }
    }
    fclose(fp);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
