/* A tiny JSON reader for the test programs (Tests/vectors/invalid.json and similar): objects,
 * arrays, strings (every escape, \u surrogate pairs; a lone surrogate becomes its 3-byte
 * WTF-8 form, as Python's "surrogatepass" does), numbers, true/false/null. Strings keep their
 * length, so embedded NUL survives. Header-only; everything it allocates is freed by
 * mj_free(). Not a validator: it accepts well-formed input and fails (NULL) on anything else. */
#ifndef MINIJSON_H
#define MINIJSON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { MJ_NULL, MJ_BOOL, MJ_NUMBER, MJ_STRING, MJ_ARRAY, MJ_OBJECT } mj_type;

typedef struct mj_value {
    mj_type type;
    double number;            /* MJ_NUMBER, MJ_BOOL (0/1) */
    char *string;             /* MJ_STRING: bytes + a terminating NUL */
    size_t length;            /* MJ_STRING: bytes; MJ_ARRAY/MJ_OBJECT: members */
    char **keys;              /* MJ_OBJECT: NUL-terminated keys */
    struct mj_value **items;  /* MJ_ARRAY/MJ_OBJECT: members */
} mj_value;

typedef struct { const char *p, *end; int depth; } mj_parser;

static void mj_free(mj_value *v) {
    if (!v) return;
    for (size_t i = 0; (v->type == MJ_ARRAY || v->type == MJ_OBJECT) && i < v->length; i++) {
        if (v->keys) free(v->keys[i]);
        mj_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->string);
    free(v);
}

static void mj_space(mj_parser *p) {
    while (p->p < p->end && (*p->p == ' ' || *p->p == '\t' || *p->p == '\n' || *p->p == '\r')) p->p++;
}

static int mj_hex4(mj_parser *p, unsigned *out) {
    if (p->end - p->p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *p->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t mj_utf8(unsigned cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* Reads a string starting at the opening quote into a new buffer; *length gets its bytes. */
static char *mj_string(mj_parser *p, size_t *length) {
    if (p->p >= p->end || *p->p != '"') return NULL;
    p->p++;
    /* The decoded form is never longer than the escaped one. */
    const char *scan = p->p;
    while (scan < p->end && *scan != '"') scan += (*scan == '\\') ? 2 : 1;
    if (scan >= p->end) return NULL;
    char *out = malloc((size_t)(scan - p->p) + 1), *w = out;
    if (!out) return NULL;
    while (p->p < p->end && *p->p != '"') {
        char c = *p->p++;
        if (c != '\\') { *w++ = c; continue; }
        if (p->p >= p->end) break;
        char e = *p->p++;
        unsigned cp;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u':
            if (!mj_hex4(p, &cp)) { free(out); return NULL; }
            if (cp >= 0xD800 && cp < 0xDC00 && p->end - p->p >= 6 && p->p[0] == '\\' && p->p[1] == 'u') {
                mj_parser look = *p;
                unsigned low;
                look.p += 2;
                if (mj_hex4(&look, &low) && low >= 0xDC00 && low < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    p->p = look.p;
                }
            }
            w += mj_utf8(cp, w);
            break;
        default: free(out); return NULL;
        }
    }
    if (p->p >= p->end) { free(out); return NULL; }
    p->p++; /* closing quote */
    *w = 0;
    *length = (size_t)(w - out);
    return out;
}

static mj_value *mj_parse_value(mj_parser *p);

static int mj_push(mj_value *v, char *key, mj_value *item) {
    char **keys = v->keys;
    if (v->type == MJ_OBJECT) {
        keys = realloc(v->keys, (v->length + 1) * sizeof *keys);
        if (!keys) return 0;
        v->keys = keys;
        keys[v->length] = key;
    }
    mj_value **items = realloc(v->items, (v->length + 1) * sizeof *items);
    if (!items) return 0;
    v->items = items;
    items[v->length++] = item;
    return 1;
}

static mj_value *mj_parse_value(mj_parser *p) {
    mj_space(p);
    if (p->p >= p->end || p->depth > 64) return NULL;
    mj_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    char c = *p->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? MJ_OBJECT : MJ_ARRAY;
        char close = c == '{' ? '}' : ']';
        p->p++;
        p->depth++;
        mj_space(p);
        if (p->p < p->end && *p->p == close) { p->p++; p->depth--; return v; }
        for (;;) {
            char *key = NULL;
            if (v->type == MJ_OBJECT) {
                size_t n;
                mj_space(p);
                key = mj_string(p, &n);
                mj_space(p);
                if (!key || p->p >= p->end || *p->p != ':') { free(key); mj_free(v); return NULL; }
                p->p++;
            }
            mj_value *item = mj_parse_value(p);
            if (!item || !mj_push(v, key, item)) { free(key); mj_free(item); mj_free(v); return NULL; }
            mj_space(p);
            if (p->p < p->end && *p->p == ',') { p->p++; continue; }
            if (p->p < p->end && *p->p == close) { p->p++; break; }
            mj_free(v);
            return NULL;
        }
        p->depth--;
        return v;
    }
    if (c == '"') {
        v->type = MJ_STRING;
        v->string = mj_string(p, &v->length);
        if (!v->string) { mj_free(v); return NULL; }
        return v;
    }
    if (p->end - p->p >= 4 && memcmp(p->p, "true", 4) == 0) { v->type = MJ_BOOL; v->number = 1; p->p += 4; return v; }
    if (p->end - p->p >= 5 && memcmp(p->p, "false", 5) == 0) { v->type = MJ_BOOL; p->p += 5; return v; }
    if (p->end - p->p >= 4 && memcmp(p->p, "null", 4) == 0) { v->type = MJ_NULL; p->p += 4; return v; }
    char *stop = NULL;
    v->type = MJ_NUMBER;
    v->number = strtod(p->p, &stop);
    if (stop == p->p || stop > p->end) { mj_free(v); return NULL; }
    p->p = stop;
    return v;
}

/* Parses `length` bytes of JSON text; NULL when it is not well-formed. */
static mj_value *mj_parse(const char *text, size_t length) {
    mj_parser p = {text, text + length, 0};
    mj_value *v = mj_parse_value(&p);
    mj_space(&p);
    if (v && p.p != p.end) { mj_free(v); return NULL; }
    return v;
}

/* The member `key` of an object, or NULL. */
static mj_value *mj_get(const mj_value *object, const char *key) {
    if (!object || object->type != MJ_OBJECT) return NULL;
    for (size_t i = 0; i < object->length; i++)
        if (strcmp(object->keys[i], key) == 0) return object->items[i];
    return NULL;
}

/* The string member `key` of an object, or NULL. */
static const char *mj_string_of(const mj_value *object, const char *key) {
    const mj_value *v = mj_get(object, key);
    return v && v->type == MJ_STRING ? v->string : NULL;
}

/* Reads a whole file; NULL on failure. */
static char *mj_read_file(const char *path, size_t *length) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *data = malloc(cap);
    while (data) {
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *grown = realloc(data, cap *= 2);
        if (!grown) { free(data); data = NULL; break; }
        data = grown;
    }
    fclose(f);
    if (data) *length = n;
    return data;
}

#endif
