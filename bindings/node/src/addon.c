/* The Node-API addon of the Himetrica server toolkit: a thin layer in plain C over
 * libhimetrica's C API (include/himetrica.h). No rules live here; lib/index.js shapes the
 * JavaScript API on top of the functions exported below.
 *
 * - Context-aware (NAPI_MODULE_INIT + napi_set_instance_data): loads in worker_threads, each
 *   environment with its own state and its own clients.
 * - Strings are copied on entry. JS strings and Buffers/Uint8Arrays are accepted, so raw bytes
 *   (invalid UTF-8) reach the core's validation. An embedded NUL byte is passed as 0x01: both
 *   are C0 control characters that no rule accepts anywhere, so the core reports the same
 *   message instead of seeing a silently truncated value.
 * - userId/flush/shutdown block in the core, so they run as napi async work on the libuv pool
 *   and settle a Promise with a plain result object (never rejected here: lib/index.js decides).
 * - Delivery outcomes and log lines come from the core's flush thread through one
 *   napi_threadsafe_function per client, unref'd so it never keeps the process alive.
 * - A client still alive when its environment tears down (process end, worker end) is shut
 *   down there, within its exit_flush_timeout; the core's own atexit flush backs this up.
 */
#define _POSIX_C_SOURCE 200809L
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "himetrica.h"

/* ---------------------------------------------------------------- per-environment state */

typedef struct client_ctx client_ctx;

typedef struct instance {
  client_ctx *clients; /* live clients of this environment (JS thread only) */
  int tearing_down;
} instance;

struct client_ctx {
  hm_client *client;
  instance *inst;
  client_ctx *next, *prev;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int ops;          /* async operations using `client` (guarded by mu) */
  int closing;      /* client_free_now started (guarded by mu) */
  int freed;        /* hm_client_free done (guarded by mu) */
  uint32_t exit_flush_ms; /* the client's exit_flush_timeout */
  atomic_int exiting; /* environment teardown: log lines can no longer reach JS */
  napi_threadsafe_function tsfn;
  int tsfn_alive;   /* guarded by mu */
  atomic_int want_delivery;
  atomic_int refs;  /* the JS handle + the threadsafe function */
};

static void ctx_unref(client_ctx *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1) {
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
  }
}

/* ---------------------------------------------------------------- helpers */

#define CHECK(call)                                                     \
  do {                                                                  \
    if ((call) != napi_ok) return throw_last(env, #call);               \
  } while (0)

static napi_value throw_last(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env, &info);
    char msg[256];
    snprintf(msg, sizeof msg, "himetrica addon: %s failed (%s)", what,
             info && info->error_message ? info->error_message : "unknown");
    napi_throw_error(env, NULL, msg);
  }
  return NULL;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static napi_value str_or_null(napi_env env, const char *s) {
  napi_value v;
  if (s) napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  else napi_get_null(env, &v);
  return v;
}

/* Arguments copied to NUL-terminated C strings. They go one after another into `buf`, on the
 * stack: one napi call per argument and no malloc for any valid call (properties and traits are
 * at most 10 KB). A longer value goes to the heap, so the core still sees all of it and reports
 * it with its own message. The core copies what it keeps, so all of it is freed on return. */
typedef struct heap_str {
  struct heap_str *next;
  char data[];
} heap_str;

typedef struct {
  size_t used;
  heap_str *heap;
  char buf[16384];
} args;

/* Not an initializer: that would clear all of buf on every call. */
static void args_init(args *a) {
  a->used = 0;
  a->heap = NULL;
}

static void args_free(args *a) {
  while (a->heap) {
    heap_str *h = a->heap;
    a->heap = h->next;
    free(h);
  }
}

static int fail(napi_env env, const char *what) {
  throw_last(env, what);
  return -1;
}

static char *args_heap(napi_env env, args *a, size_t len) {
  heap_str *h = malloc(sizeof *h + len + 1);
  if (!h) { napi_throw_error(env, NULL, "himetrica: out of memory"); return NULL; }
  h->next = a->heap;
  a->heap = h;
  return h->data;
}

static void nul_to_soh(char *p, size_t len) {
  char *q = p, *end = p + len;
  while ((q = memchr(q, 0, (size_t)(end - q))) != NULL) *q++ = 0x01;
}

/* *out = v as a C string in `a`, or NULL for undefined/null. Returns 0, or -1 with a JS
 * exception pending (a TypeError naming `field` for a value of another type). */
static int get_cstr(napi_env env, args *a, napi_value v, const char *field, const char **out) {
  *out = NULL;
  char *p = a->buf + a->used;
  size_t room = sizeof a->buf - a->used, len = 0;
  /* Strings first: one call both checks the type and copies. */
  napi_status st = napi_get_value_string_utf8(env, v, p, room, &len);
  if (st == napi_ok) {
    /* Node stops before a character that does not fit whole (up to 4 bytes), so only a
     * result with fewer than 4 bytes of room left after it may have been cut short. */
    if (len + 5 <= room) {
      a->used += len + 1;
    } else {
      if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return fail(env, "napi_get_value_string_utf8");
      if (!(p = args_heap(env, a, len))) return -1;
      if (napi_get_value_string_utf8(env, v, p, len + 1, &len) != napi_ok) return fail(env, "napi_get_value_string_utf8");
    }
    nul_to_soh(p, len);
    *out = p;
    return 0;
  }
  if (st != napi_string_expected) return fail(env, "napi_get_value_string_utf8");
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return fail(env, "napi_typeof");
  if (t == napi_undefined || t == napi_null) return 0;
  bool is_ta = false;
  if (t == napi_object) napi_is_typedarray(env, v, &is_ta);
  if (is_ta) {
    napi_typedarray_type tt;
    size_t n = 0;
    void *data = NULL;
    if (napi_get_typedarray_info(env, v, &tt, &n, &data, NULL, NULL) != napi_ok) return fail(env, "napi_get_typedarray_info");
    if (tt == napi_uint8_array) {
      if (n + 1 <= room) a->used += n + 1;
      else if (!(p = args_heap(env, a, n))) return -1;
      if (n) memcpy(p, data, n);
      p[n] = 0;
      nul_to_soh(p, n);
      *out = p;
      return 0;
    }
  }
  char msg[160];
  snprintf(msg, sizeof msg, "%s must be a string or a Buffer", field);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return -1;
}

/* [status, message] for a failed core call, read on the calling thread. */
static napi_value status_pair(napi_env env, hm_status st, const char *msg) {
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, (int32_t)st, &a);
  b = str_or_null(env, msg ? msg : hm_status_name(st));
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

static client_ctx *get_ctx(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) { /* not an external */
    napi_throw_type_error(env, NULL, "himetrica: not a client handle");
    return NULL;
  }
  return p;
}

/* ---------------------------------------------------------------- callbacks from the core */

enum { ITEM_DELIVERY = 1, ITEM_LOG = 2 };

typedef struct item {
  int kind;
  int32_t outcome, status, attempts, level;
  char *endpoint, *message, *body;
} item;

static void item_free(item *it) {
  if (!it) return;
  free(it->endpoint);
  free(it->message);
  free(it->body);
  free(it);
}

static void post(client_ctx *c, item *it) {
  napi_status st = napi_generic_failure;
  pthread_mutex_lock(&c->mu);
  if (c->tsfn_alive) st = napi_call_threadsafe_function(c->tsfn, it, napi_tsfn_nonblocking);
  pthread_mutex_unlock(&c->mu);
  if (st != napi_ok) item_free(it);
}

static void on_delivery(hm_delivery const *d, void *ud) {
  client_ctx *c = ud;
  if (!c || !d || !atomic_load(&c->want_delivery)) return;
  item *it = calloc(1, sizeof *it);
  if (!it) return;
  it->kind = ITEM_DELIVERY;
  it->outcome = hm_delivery_outcome(d);
  it->status = hm_delivery_status(d);
  it->attempts = hm_delivery_attempts(d);
  it->endpoint = dup_or_null(hm_delivery_endpoint(d));
  it->message = dup_or_null(hm_delivery_message(d));
  it->body = dup_or_null(hm_delivery_body(d));
  post(c, it);
}

static void on_log(int32_t level, char const *message, void *ud) {
  client_ctx *c = ud;
  if (!c) return;
  if (atomic_load(&c->exiting)) {
    /* The event loop has stopped, so the JS logger would never see the line: warnings and
     * above (e.g. what the exit left undelivered) go where the core's default logger writes. */
    static const char *const names[] = {"trace", "debug", "info", "notice", "warning", "error", "critical"};
    if (level >= 4 && level <= 6) fprintf(stderr, "himetrica %s: %s\n", names[level], message ? message : "");
    return;
  }
  item *it = calloc(1, sizeof *it);
  if (!it) return;
  it->kind = ITEM_LOG;
  it->level = level;
  it->message = dup_or_null(message);
  post(c, it);
}

/* On the JS thread. env is NULL when the environment is tearing down: just free. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  item *it = data;
  if (env == NULL || js_cb == NULL || it == NULL) { item_free(it); return; }
  napi_value obj, v, undef;
  if (napi_create_object(env, &obj) != napi_ok) { item_free(it); return; }
  if (it->kind == ITEM_DELIVERY) {
    napi_create_string_utf8(env, "delivery", NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, obj, "type", v);
    napi_create_string_utf8(env, hm_outcome_name(it->outcome), NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, obj, "outcome", v);
    napi_set_named_property(env, obj, "endpoint", str_or_null(env, it->endpoint));
    napi_create_int32(env, it->status, &v);
    napi_set_named_property(env, obj, "status", v);
    napi_create_int32(env, it->attempts, &v);
    napi_set_named_property(env, obj, "attempts", v);
    napi_set_named_property(env, obj, "message", str_or_null(env, it->message));
    napi_set_named_property(env, obj, "body", str_or_null(env, it->body));
  } else {
    napi_create_string_utf8(env, "log", NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, obj, "type", v);
    napi_create_int32(env, it->level, &v);
    napi_set_named_property(env, obj, "level", v);
    napi_set_named_property(env, obj, "message", str_or_null(env, it->message));
  }
  item_free(it);
  napi_get_undefined(env, &undef);
  /* The JS dispatcher catches what handlers throw; anything left is reported by Node. */
  napi_call_function(env, undef, js_cb, 1, &obj, NULL);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  client_ctx *c = data;
  pthread_mutex_lock(&c->mu);
  c->tsfn_alive = 0;
  pthread_mutex_unlock(&c->mu);
  ctx_unref(c);
}

/* ---------------------------------------------------------------- client lifetime */

/* Shuts the core client down and frees it. hm_shutdown comes first, while async operations may
 * still be waiting in the core: it ends them promptly (lookups fail as shut down, flushes
 * settle), so teardown is bounded by exit_flush_timeout rather than by their timeouts. The
 * handle itself is freed only once no operation uses it. Safe to call twice.
 * hm_client_free alone would not do: it only detaches the flush thread, and the core's atexit
 * flush then starts a second thread on the same engine (seen as a crash in curl_multi_perform
 * at exit, and as events sent twice). */
static void client_free_now(client_ctx *c, int at_exit) {
  pthread_mutex_lock(&c->mu);
  if (c->closing) { pthread_mutex_unlock(&c->mu); return; }
  c->closing = 1;
  hm_client *cl = c->client;
  pthread_mutex_unlock(&c->mu);
  /* Both join the flush thread; at exit the core logs one line for what is left undelivered. */
  if (at_exit) {
    atomic_store(&c->exiting, 1);
    hm_shutdown_at_exit(cl, NULL);
  } else {
    hm_shutdown(cl, c->exit_flush_ms, NULL);
  }
  pthread_mutex_lock(&c->mu);
  while (c->ops > 0) pthread_cond_wait(&c->cv, &c->mu);
  c->freed = 1;
  c->client = NULL;
  pthread_mutex_unlock(&c->mu);
  hm_client_free(cl); /* no delivery callback runs after this returns */
  pthread_mutex_lock(&c->mu);
  if (c->tsfn_alive) napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
  pthread_mutex_unlock(&c->mu);
}

static void *free_thread(void *arg) {
  client_ctx *c = arg;
  client_free_now(c, 0);
  ctx_unref(c);
  return NULL;
}

static void unlink_ctx(client_ctx *c) {
  instance *inst = c->inst;
  if (!inst) return;
  if (c->prev) c->prev->next = c->next; else inst->clients = c->next;
  if (c->next) c->next->prev = c->prev;
  c->next = c->prev = NULL;
  c->inst = NULL;
}

/* The JS handle was garbage-collected (or the environment is going away). */
static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  client_ctx *c = data;
  int teardown = c->inst ? c->inst->tearing_down : 1;
  unlink_ctx(c);
  if (teardown) {
    client_free_now(c, 1);
    ctx_unref(c);
    return;
  }
  /* A live client dropped without shutdown(): its final flush may take up to
   * exit_flush_timeout, which must not block the event loop. */
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&th, &attr, free_thread, c) != 0) {
    client_free_now(c, 0);
    ctx_unref(c);
  }
  pthread_attr_destroy(&attr);
}

/* Environment teardown (end of the main script or of a worker): send what is pending. Runs
 * before Node-API finalizes the handles, so they find the clients already freed. */
static void env_cleanup(void *arg) {
  instance *inst = arg;
  inst->tearing_down = 1;
  for (client_ctx *c = inst->clients; c; c = c->next) client_free_now(c, 1);
}

static void instance_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  instance *inst = data;
  for (client_ctx *c = inst->clients; c; c = c->next) c->inst = NULL;
  free(inst);
}

/* create(secretKey, [[name, value], ...], dispatch, logLevel) -> handle | [status, message] */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  instance *inst = NULL;
  napi_get_instance_data(env, (void **)&inst);

  args a; /* the key and every option, freed at each return */
  args_init(&a);
  const char *key;
  if (get_cstr(env, &a, argv[0], "secretKey", &key) != 0) { args_free(&a); return NULL; }

  hm_config *cfg = hm_config_new();
  uint32_t exit_flush_ms = 2000; /* the core's default exit_flush_timeout */
  uint32_t n = 0;
  bool is_arr = false;
  napi_is_array(env, argv[1], &is_arr);
  if (is_arr) napi_get_array_length(env, argv[1], &n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value pair, nv, vv;
    napi_get_element(env, argv[1], i, &pair);
    napi_get_element(env, pair, 0, &nv);
    napi_get_element(env, pair, 1, &vv);
    const char *name, *value;
    if (get_cstr(env, &a, nv, "option name", &name) != 0 || get_cstr(env, &a, vv, "option value", &value) != 0) {
      hm_config_free(cfg); args_free(&a); return NULL;
    }
    hm_status st = hm_config_set(cfg, name, value);
    if (st == HM_OK && strcmp(name, "exit_flush_timeout") == 0) {
      double secs = strtod(value, NULL);
      exit_flush_ms = secs <= 0 ? 0 : secs >= 4294967.0 ? 4294967295u : (uint32_t)(secs * 1000.0);
    }
    if (st != HM_OK) {
      napi_value r = status_pair(env, st, hm_last_error());
      hm_config_free(cfg);
      args_free(&a);
      return r;
    }
  }

  client_ctx *c = calloc(1, sizeof *c);
  if (!c) { hm_config_free(cfg); args_free(&a); napi_throw_error(env, NULL, "himetrica: out of memory"); return NULL; }
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  atomic_init(&c->refs, 1);
  c->exit_flush_ms = exit_flush_ms;
  atomic_init(&c->want_delivery, 0);
  atomic_init(&c->exiting, 0);

  napi_valuetype ft;
  napi_typeof(env, argv[2], &ft);
  if (ft == napi_function) {
    napi_value name;
    napi_create_string_utf8(env, "himetrica.delivery", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, c, tsfn_finalize, c, call_js,
                                        &c->tsfn) == napi_ok) {
      c->tsfn_alive = 1;
      atomic_fetch_add(&c->refs, 1);
      napi_unref_threadsafe_function(env, c->tsfn);
      hm_config_set_delivery_callback(cfg, on_delivery, c);
      int32_t level = -1;
      napi_get_value_int32(env, argv[3], &level);
      if (level >= 0) hm_config_set_log_callback(cfg, on_log, level, c);
    }
  }

  hm_client *client = NULL;
  hm_status st = hm_client_new(key, cfg, &client);
  args_free(&a);
  if (st != HM_OK) {
    napi_value r = status_pair(env, st, hm_last_error());
    hm_config_free(cfg);
    if (c->tsfn_alive) napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);
    ctx_unref(c);
    return r;
  }
  hm_config_free(cfg);
  c->client = client;
  if (inst) {
    c->inst = inst;
    c->next = inst->clients;
    if (inst->clients) inst->clients->prev = c;
    inst->clients = c;
  }
  napi_value handle;
  if (napi_create_external(env, c, handle_finalize, NULL, &handle) != napi_ok) {
    unlink_ctx(c);
    client_free_now(c, 0);
    ctx_unref(c);
    return throw_last(env, "napi_create_external");
  }
  return handle;
}

/* setDelivery(handle, bool): whether outcomes are copied and sent to JS at all. */
static napi_value js_set_delivery(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  client_ctx *c = get_ctx(env, argv[0]);
  if (!c) return NULL;
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  atomic_store(&c->want_delivery, on ? 1 : 0);
  return NULL;
}

/* ---------------------------------------------------------------- track / identify */

/* track(handle, eventName, visitorId, propertiesJson, userId, email, timestamp, session)
 * -> undefined | [status, message]. The hot path: one napi call per argument, nothing
 * allocated on success. Arguments left off at the end are absent, so the common call (by
 * visitor id, with properties) passes four: each undefined argument costs ~9 ns to pass and
 * inspect. Fields are read in hm_track's order, so a type error names the same field
 * whichever way the call is made. */
static napi_value js_track(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  client_ctx *c = get_ctx(env, argv[0]);
  if (!c) return NULL;
  static const char *const fields[7] = {"eventName", "userId", "email", "visitorId", "properties", "timestamp", "session"};
  static const size_t arg_of[7] = {1, 4, 5, 2, 3, 6, 7}; /* argv index of each field */
  const char *s[7];
  args a;
  args_init(&a);
  napi_value r = NULL;
  int i = 0;
  for (; i < 7; i++) {
    if (arg_of[i] >= argc) s[i] = NULL;
    else if (get_cstr(env, &a, argv[arg_of[i]], fields[i], &s[i]) != 0) break;
  }
  if (i == 7) {
    hm_status st = hm_track(c->client, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
    if (st != HM_OK) r = status_pair(env, st, hm_last_error());
  }
  args_free(&a);
  return r;
}

/* identify(handle, userId, email, visitorId, traitsJson) -> undefined | [status, message] */
static napi_value js_identify(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  client_ctx *c = get_ctx(env, argv[0]);
  if (!c) return NULL;
  static const char *const fields[4] = {"userId", "email", "visitorId", "traits"};
  const char *s[4];
  args a;
  args_init(&a);
  napi_value r = NULL;
  int i = 0;
  while (i < 4 && get_cstr(env, &a, argv[i + 1], fields[i], &s[i]) == 0) i++;
  if (i == 4) {
    hm_status st = hm_identify(c->client, s[0], s[1], s[2], s[3]);
    if (st != HM_OK) r = status_pair(env, st, hm_last_error());
  }
  args_free(&a);
  return r;
}

/* stats(handle) -> [number] in hm_stat order (lib/constants.js names them), read at one instant */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], arr;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  client_ctx *c = get_ctx(env, argv[0]);
  if (!c) return NULL;
  hm_stats s;
  memset(&s, 0, sizeof s);
  s.size = sizeof s;
  if (hm_stats_snapshot(c->client, &s) != HM_OK) return throw_last(env, "hm_stats_snapshot");
  const size_t first = offsetof(hm_stats, queued), count = (sizeof s - first) / sizeof(uint64_t);
  CHECK(napi_create_array_with_length(env, count, &arr));
  for (size_t i = 0; i < count; i++) {
    uint64_t v;
    memcpy(&v, (const char *)&s + first + i * sizeof v, sizeof v);
    napi_value nv;
    napi_create_double(env, (double)v, &nv);
    napi_set_element(env, arr, (uint32_t)i, nv);
  }
  return arr;
}

/* maskKey(string) -> the key as the core shows it (hm_secret_key_masked) */
static napi_value js_mask_key(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], out;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
  char *key = malloc(len + 1);
  if (!key) return throw_last(env, "malloc");
  napi_status st = napi_get_value_string_utf8(env, argv[0], key, len + 1, &len);
  char *masked = st == napi_ok ? hm_secret_key_masked(key) : NULL;
  free(key);
  if (!masked) return throw_last(env, "hm_secret_key_masked");
  st = napi_create_string_utf8(env, masked, NAPI_AUTO_LENGTH, &out);
  hm_string_free(masked);
  return st == napi_ok ? out : throw_last(env, "napi_create_string_utf8");
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_string_utf8(env, hm_version(), NAPI_AUTO_LENGTH, &v);
  return v;
}

/* ---------------------------------------------------------------- async: userId, flush, shutdown */

enum { OP_USER_ID, OP_FLUSH, OP_SHUTDOWN, OP_SHUTDOWN_AT_EXIT };

typedef struct op {
  int kind;
  client_ctx *c;
  napi_ref keep; /* the handle stays alive while the work runs */
  napi_deferred deferred;
  napi_async_work work;
  char *visitor;
  uint32_t timeout_ms;
  hm_status st;
  uint64_t pending;
  char *user_id;
  char *message;
} op;

static void op_execute(napi_env env, void *data) {
  (void)env;
  op *o = data;
  client_ctx *c = o->c;
  pthread_mutex_lock(&c->mu);
  hm_client *cl = c->freed ? NULL : c->client;
  if (cl) c->ops++;
  pthread_mutex_unlock(&c->mu);
  if (!cl) {
    o->st = HM_ERR_SHUT_DOWN;
    o->message = strdup("the client was shut down");
    return;
  }
  char *uid = NULL;
  switch (o->kind) {
    case OP_USER_ID: o->st = hm_user_id(cl, o->visitor, o->timeout_ms, &uid); break;
    case OP_FLUSH: o->st = hm_flush(cl, o->timeout_ms, &o->pending); break;
    case OP_SHUTDOWN_AT_EXIT: o->st = hm_shutdown_at_exit(cl, &o->pending); break;
    default: o->st = hm_shutdown(cl, o->timeout_ms, &o->pending); break;
  }
  if (o->st != HM_OK) o->message = dup_or_null(hm_last_error());
  if (uid) { o->user_id = strdup(uid); hm_string_free(uid); }
  pthread_mutex_lock(&c->mu);
  if (--c->ops == 0) pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* Always resolves, with { status, message, pending, userId }; lib/index.js maps it. */
static void op_complete(napi_env env, napi_status status, void *data) {
  op *o = data;
  if (env) {
    napi_value obj, v;
    napi_create_object(env, &obj);
    if (status == napi_cancelled) { o->st = HM_ERR_SHUT_DOWN; }
    napi_create_int32(env, (int32_t)o->st, &v);
    napi_set_named_property(env, obj, "status", v);
    napi_set_named_property(env, obj, "message", str_or_null(env, o->message));
    napi_create_double(env, (double)o->pending, &v);
    napi_set_named_property(env, obj, "pending", v);
    napi_set_named_property(env, obj, "userId", str_or_null(env, o->user_id));
    napi_resolve_deferred(env, o->deferred, obj);
    napi_delete_reference(env, o->keep);
    napi_delete_async_work(env, o->work);
  }
  free(o->visitor);
  free(o->user_id);
  free(o->message);
  free(o);
}

/* (handle, [visitorId,] timeoutMs) -> Promise */
static napi_value start_op(napi_env env, napi_callback_info info, int kind) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  client_ctx *c = get_ctx(env, argv[0]);
  if (!c) return NULL;
  op *o = calloc(1, sizeof *o);
  if (!o) { napi_throw_error(env, NULL, "himetrica: out of memory"); return NULL; }
  o->kind = kind;
  o->c = c;
  napi_value tv = argv[1];
  if (kind == OP_USER_ID) {
    args a;
    args_init(&a);
    const char *vid;
    int bad = get_cstr(env, &a, argv[1], "visitorId", &vid) != 0;
    if (!bad) o->visitor = dup_or_null(vid);
    args_free(&a);
    if (bad) { free(o); return NULL; }
    tv = argv[2];
  }
  double t = 0;
  napi_get_value_double(env, tv, &t);
  o->timeout_ms = t <= 0 ? 0 : t >= 4294967295.0 ? 4294967295u : (uint32_t)t;
  napi_value promise, name;
  if (napi_create_promise(env, &o->deferred, &promise) != napi_ok) { free(o->visitor); free(o); return throw_last(env, "napi_create_promise"); }
  napi_create_reference(env, argv[0], 1, &o->keep);
  napi_create_string_utf8(env, "himetrica", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, op_execute, op_complete, o, &o->work) != napi_ok ||
      napi_queue_async_work(env, o->work) != napi_ok) {
    /* Could not run it: settle at once, as a shut-down client would. */
    o->st = HM_ERR_SHUT_DOWN;
    o->message = strdup("could not start the operation");
    op_complete(env, napi_ok, o);
  }
  return promise;
}

static napi_value js_user_id(napi_env env, napi_callback_info info) { return start_op(env, info, OP_USER_ID); }
static napi_value js_flush(napi_env env, napi_callback_info info) { return start_op(env, info, OP_FLUSH); }
static napi_value js_shutdown(napi_env env, napi_callback_info info) { return start_op(env, info, OP_SHUTDOWN); }
static napi_value js_shutdown_at_exit(napi_env env, napi_callback_info info) {
  return start_op(env, info, OP_SHUTDOWN_AT_EXIT);
}

/* ---------------------------------------------------------------- module */

NAPI_MODULE_INIT() {
  instance *inst = calloc(1, sizeof *inst);
  if (!inst || napi_set_instance_data(env, inst, instance_finalize, NULL) != napi_ok) {
    free(inst);
    napi_throw_error(env, NULL, "himetrica: could not set instance data");
    return NULL;
  }
  napi_add_env_cleanup_hook(env, env_cleanup, inst);
  napi_property_descriptor props[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"setDelivery", NULL, js_set_delivery, NULL, NULL, NULL, napi_default, NULL},
      {"track", NULL, js_track, NULL, NULL, NULL, napi_default, NULL},
      {"identify", NULL, js_identify, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"userId", NULL, js_user_id, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
      {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
      {"shutdownAtExit", NULL, js_shutdown_at_exit, NULL, NULL, NULL, napi_default, NULL},
      {"version", NULL, js_version, NULL, NULL, NULL, napi_default, NULL},
      {"maskKey", NULL, js_mask_key, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
