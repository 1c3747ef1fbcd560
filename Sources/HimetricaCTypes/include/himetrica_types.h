/* Types of the Himetrica C ABI that Swift cannot declare itself. `make header` copies them
 * into include/himetrica.h with the handles' bodies removed, so C callers see opaque types.
 * The hm_stats struct below is written by scripts/make-header.py from Stats.named
 * (Sources/HimetricaCore/Delivery.swift): add a counter there, not here. */
#ifndef HIMETRICA_TYPES_H
#define HIMETRICA_TYPES_H

#include <stddef.h>
#include <stdint.h>

/** Options for a client, built with hm_config_new() and hm_config_set(). */
typedef struct hm_config { char opaque_; } hm_config;
/** A client: a queue and a background flush thread delivering to the Server API. */
typedef struct hm_client { char opaque_; } hm_client;
/** One request's final outcome, readable with the hm_delivery_* getters during a callback. */
typedef struct hm_delivery { char opaque_; } hm_delivery;
/** Called with each request's final outcome (see hm_config_set_delivery_callback()). */
typedef void (*hm_delivery_callback)(const hm_delivery *delivery, void *user_data);
/** Called with each log line: `level` is an hm_log_level value (see hm_config_set_log_callback()). */
typedef void (*hm_log_callback)(int32_t level, const char *message, void *user_data);

/* BEGIN GENERATED hm_stats */
/** Every counter of a client, read at one instant by hm_stats_snapshot(). Set `size` to
 * sizeof(hm_stats) first. Counters are only ever added at the end. */
typedef struct hm_stats {
    /** sizeof(hm_stats), set by the caller: how much the library may fill. */
    size_t size;
    /** Track and identify calls accepted by validation (those refused for a full queue too). */
    uint64_t queued;
    /** Requests the server accepted (2xx). */
    uint64_t delivered;
    /** Requests the server refused; never retried. */
    uint64_t rejected;
    /** Retry attempts made. */
    uint64_t retried;
    /** Requests whose retry budget ran out. */
    uint64_t gave_up;
    /** Requests refused because the queue was full, or abandoned at shutdown. */
    uint64_t dropped;
    /** 429 answers seen. */
    uint64_t throttled;
    /** Requests being sent now. */
    uint64_t in_flight;
    /** Requests waiting to be sent. */
    uint64_t queue_depth;
    /** Requests sent with a permit from the shared limit (`shared_limit`, Redis). */
    uint64_t shared_permits;
    /** Times Redis was lost and the shared limit fell back to a local one. */
    uint64_t shared_fallbacks;
    /** Redis calls of the shared limit that failed (connection, timeout, error answer). */
    uint64_t redis_errors;
    /** With a spool: calls this process committed to it. */
    uint64_t spooled;
    /** With a spool: bytes its files take on disk (at the last commit). */
    uint64_t spool_bytes;
    /** With a spool: requests sent again because an earlier sender died (or exited) after recording them in flight (started, or next to start): they may have arrived before (at-least-once). */
    uint64_t resent;
    /** With a spool: 1 while this process is the spool's sender, else 0. */
    uint64_t sender;
    /** With a spool: times the spool failed at run time (disk full, I/O error) and the client fell back to memory. */
    uint64_t spool_errors;
} hm_stats;
/* END GENERATED hm_stats */

#endif
