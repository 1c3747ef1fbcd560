/* Types of the Himetrica C ABI that Swift cannot declare itself. `make header` copies them
 * into include/himetrica.h with the struct bodies removed, so C callers see opaque types. */
#ifndef HIMETRICA_TYPES_H
#define HIMETRICA_TYPES_H

#include <stdint.h>

/** Options for a client, built with hm_config_new() and hm_config_set(). */
typedef struct hm_config { char opaque_; } hm_config;
/** A client: a queue and a background flush thread delivering to the Server API. */
typedef struct hm_client { char opaque_; } hm_client;
/** One request's final outcome, readable with the hm_delivery_* getters during a callback. */
typedef struct hm_delivery { char opaque_; } hm_delivery;

#endif
