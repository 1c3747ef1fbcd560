'use strict';
// The Himetrica server toolkit for Node: a thin JavaScript layer over the native addon
// (src/addon.c), which calls libhimetrica. Validation, queueing, rate limiting, retries and
// delivery all happen in the library on its own thread; nothing here keeps the event loop alive.

const { EventEmitter } = require('node:events');
const util = require('node:util');
const path = require('node:path');
const requestTracking = require('./request-tracking.js');

const native = require(path.join(__dirname, '..', 'build', 'himetrica.node'));
const { STATUS, LOG_LEVELS, STATS, OPTIONS } = require('./constants.js');
const signals = require('./signals');

// ------------------------------------------------------------------ errors

const STATUS_CODE = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, `HM_ERR_${k}`]));

const KEY_PATTERN = /hm_sk_[A-Za-z0-9_-]*/g;

/** `hm_sk_…abcd`: the most of a secret key any output shows (the core's one rule). */
function maskKey(key) {
  if (typeof key !== 'string' || key.length === 0) return null;
  return native.maskKey(key);
}

/** Messages come from the core, which never includes the key; this is a second guard. */
function scrub(message) {
  return String(message).replace(KEY_PATTERN, (k) => (k.length > 'hm_sk_'.length ? maskKey(k) : k));
}

class HimetricaError extends Error {
  constructor(message, status = -1) {
    super(scrub(message));
    this.name = 'HimetricaError';
    this.status = status;
    this.code = STATUS_CODE[status] || 'HM_ERR';
  }
}
/** Bad input: the message is the core's, exactly (e.g. `eventName: must not be empty`). */
class HimetricaValidationError extends HimetricaError {
  constructor(message) { super(message, STATUS.INVALID_ARGUMENT); this.name = 'HimetricaValidationError'; }
}
class QueueFullError extends HimetricaError {
  constructor(message) { super(message, STATUS.QUEUE_FULL); this.name = 'QueueFullError'; }
}
class ShutDownError extends HimetricaError {
  constructor(message) { super(message, STATUS.SHUT_DOWN); this.name = 'ShutDownError'; }
}
class TimeoutError extends HimetricaError {
  constructor(message) { super(message, STATUS.TIMEOUT); this.name = 'TimeoutError'; }
}
/** userId(): the server does not know the visitor (404). */
class NotFoundError extends HimetricaError {
  constructor(message) { super(message, STATUS.NOT_FOUND); this.name = 'NotFoundError'; }
}
class UnauthorizedError extends HimetricaError {
  constructor(message) { super(message, STATUS.UNAUTHORIZED); this.name = 'UnauthorizedError'; }
}
class RejectedError extends HimetricaError {
  constructor(message) { super(message, STATUS.REJECTED); this.name = 'RejectedError'; }
}
class UnavailableError extends HimetricaError {
  constructor(message) { super(message, STATUS.UNAVAILABLE); this.name = 'UnavailableError'; }
}

const ERROR_CLASS = {
  [STATUS.INVALID_ARGUMENT]: HimetricaValidationError,
  [STATUS.QUEUE_FULL]: QueueFullError,
  [STATUS.SHUT_DOWN]: ShutDownError,
  [STATUS.TIMEOUT]: TimeoutError,
  [STATUS.NOT_FOUND]: NotFoundError,
  [STATUS.UNAUTHORIZED]: UnauthorizedError,
  [STATUS.REJECTED]: RejectedError,
  [STATUS.UNAVAILABLE]: UnavailableError,
};

function makeError(status, message) {
  const C = ERROR_CLASS[status];
  return C ? new C(message || 'error') : new HimetricaError(message || 'error', status);
}

/** Native calls return undefined on success or [status, message]. */
function check(result) {
  if (result !== undefined) throw makeError(result[0], result[1]);
}

// ------------------------------------------------------------------ JSON encoding

/**
 * BigInt: a JSON number when it is a safe integer (|n| <= 2^53 - 1, so any JSON reader gets it
 * exactly), otherwise its decimal digits as a JSON string (no reader silently rounds it).
 */
function bigintToJSON(b) {
  return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b.toString();
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const memberPath = (base, key) => (IDENT.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`);

// Rebuilds `value` as plain JSON data with JSON.stringify's rules (toJSON, omitted undefined /
// functions / symbols, null in arrays, boxed primitives), BigInt converted, cycles reported.
function toPlain(value, key, where, stack, paths) {
  if (value !== null && (typeof value === 'object' || typeof value === 'bigint') && typeof value.toJSON === 'function') {
    value = value.toJSON(key);
  }
  if (typeof value === 'bigint') return bigintToJSON(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return value.valueOf();
  if (Object.prototype.toString.call(value) === '[object BigInt]') return bigintToJSON(value.valueOf());
  const seen = stack.indexOf(value);
  if (seen >= 0) {
    const err = new TypeError(`${where}: circular structure (refers back to ${paths[seen]}); properties and traits must be a tree`);
    err.code = 'ERR_HIMETRICA_CIRCULAR';
    throw err;
  }
  stack.push(value);
  paths.push(where);
  let out;
  if (Array.isArray(value)) {
    out = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const r = toPlain(value[i], String(i), `${where}[${i}]`, stack, paths);
      out[i] = r === undefined || typeof r === 'function' || typeof r === 'symbol' ? null : r;
    }
  } else {
    out = {};
    for (const k of Object.keys(value)) {
      const r = toPlain(value[k], k, memberPath(where, k), stack, paths);
      if (r !== undefined && typeof r !== 'function' && typeof r !== 'symbol') out[k] = r;
    }
  }
  stack.pop();
  paths.pop();
  return out;
}

/**
 * The JSON text handed to the core for `properties` / `traits`. A Buffer or Uint8Array is
 * taken as JSON text already (bytes passed as they are, so the core validates them); anything
 * else is serialized with JSON.stringify semantics: Date -> ISO 8601 (its toJSON), BigInt ->
 * see bigintToJSON, a cycle -> TypeError naming the path. Whether the result is a JSON object
 * of at most 10 KB is the core's rule, reported with its message.
 */
function encodeJSON(value, field) {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Uint8Array) return value;
  let text;
  try {
    text = JSON.stringify(value);
  } catch (_) {
    text = JSON.stringify(toPlain(value, '', field, [], []));
  }
  return text === undefined ? 'null' : text;
}

function encodeTimestamp(ts) {
  if (ts instanceof Date) return Number.isNaN(ts.getTime()) ? 'Invalid Date' : ts.toISOString();
  if (typeof ts === 'number') {
    const d = new Date(ts);
    return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString();
  }
  return ts;
}

// ------------------------------------------------------------------ options

const MS = (v) => String(Number(v) / 1000); // JS durations are milliseconds; the core takes seconds
const INT = (v) => String(v);
const RATE = (v) => {
  if (v === null || v === false || v === 'none') return 'none';
  if (typeof v === 'object' && v !== undefined) return `${v.count}/${v.seconds}`;
  return String(v);
};
const BOOL = (v) => (v === true || v === 'true' || v === 1 ? 'true' : v === false || v === 'false' || v === 0 ? 'false' : String(v));

// How each kind of option (constants.js, from the core's parser) is written for the core.
const CONVERT = { integer: INT, seconds: MS, number: String, boolean: BOOL, rate: RATE, string: String };
const NOT_CORE = new Set(['secretKey', 'onDelivery', 'logger', 'logLevel', 'flushOnSignals']);
const DEFAULT_EXIT_FLUSH_MS = 2000; // the core's exit_flush_timeout
const snake = (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

function optionPairs(options) {
  const pairs = [];
  for (const [name, value] of Object.entries(options)) {
    if (NOT_CORE.has(name) || value === undefined) continue;
    const known = OPTIONS[name];
    // Unknown names go to the core in snake_case, which rejects them with its own message.
    pairs.push(known ? [known[0], CONVERT[known[1]](value)] : [snake(name), String(value)]);
  }
  return pairs;
}

const DEFAULT_TIMEOUT_MS = 10000;
const timeoutOf = (o, dflt = DEFAULT_TIMEOUT_MS) => {
  const t = o && o.timeout !== undefined ? Number(o.timeout) : dflt;
  if (t === Infinity) return 4294967295; // the core's longest wait (about 49 days)
  return Number.isFinite(t) && t >= 0 ? t : dflt;
};

// ------------------------------------------------------------------ client

const inspectSymbol = util.inspect.custom;

// The threadsafe function holds its JS callback strongly; it reaches the client only through
// a WeakRef so an unreferenced client can still be collected (and then shut down).
function makeDispatch(ref) {
  return function dispatch(item) {
    const client = ref.deref();
    if (client) client._dispatch(item);
  };
}

class Client extends EventEmitter {
  #h;
  #maskedKey;
  #endpoint;
  #onDelivery;
  #logger;
  #exitFlushMs;
  #closed = false;

  /**
   * @param {object} [options] secretKey (default: HIMETRICA_SECRET_KEY), endpoint, and the
   *   core's options in camelCase (durations in milliseconds); onDelivery(outcome); logger(level, message);
   *   flushOnSignals (false): deliver what is queued on SIGTERM/SIGINT within exitFlushTimeout, then
   *   end the process by that signal unless the application listens for it too (lib/signals.js).
   */
  constructor(options = {}) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const key = options.secretKey !== undefined ? options.secretKey : process.env.HIMETRICA_SECRET_KEY;
    if (key === undefined || key === null || key === '') {
      throw new HimetricaValidationError('secretKey: is required (pass secretKey or set HIMETRICA_SECRET_KEY)');
    }
    if (typeof key !== 'string') throw new TypeError('secretKey must be a string');
    this.#maskedKey = maskKey(key);
    this.#endpoint = options.endpoint;
    if (options.onDelivery !== undefined && typeof options.onDelivery !== 'function') {
      throw new TypeError('onDelivery must be a function');
    }
    this.#onDelivery = options.onDelivery;
    this.#logger = typeof options.logger === 'function' ? options.logger : undefined;
    let level = -1;
    if (this.#logger) {
      const l = options.logLevel === undefined ? 'warning' : options.logLevel;
      level = typeof l === 'number' ? l : LOG_LEVELS[l];
      if (level === undefined) throw new TypeError(`logLevel must be one of ${Object.keys(LOG_LEVELS).join(', ')}`);
    }
    const withSpool = options.spool === undefined && process.env.HIMETRICA_SPOOL ? { ...options, spool: process.env.HIMETRICA_SPOOL } : options;
    const handle = native.create(key, optionPairs(withSpool), makeDispatch(new WeakRef(this)), level);
    if (Array.isArray(handle)) throw makeError(handle[0], handle[1]);
    this.#h = handle;
    this.#exitFlushMs = options.exitFlushTimeout !== undefined ? Number(options.exitFlushTimeout) : DEFAULT_EXIT_FLUSH_MS;
    if (this.#onDelivery) native.setDelivery(handle, true);
    this.on('newListener', (event) => {
      if (event === 'delivery') native.setDelivery(this.#h, true);
    });
    this.on('removeListener', (event) => {
      if (event === 'delivery' && !this.#onDelivery && this.listenerCount('delivery') === 0) native.setDelivery(this.#h, false);
    });
    if (options.flushOnSignals) signals.install(this);
  }

  /** @internal called from the native thread-safe function on the event loop. */
  _dispatch(item) {
    try {
      if (item.type === 'log') {
        if (this.#logger) this.#logger(item.level, item.message);
        return;
      }
      const outcome = {
        outcome: item.outcome,
        endpoint: item.endpoint,
        status: item.status,
        attempts: item.attempts,
        message: item.message,
        body: item.body,
      };
      if (this.#onDelivery) this.#onDelivery(outcome);
      if (this.listenerCount('delivery') > 0) this.emit('delivery', outcome);
    } catch (err) {
      // A throwing handler must not take the process down from a native callback.
      process.emitWarning(`himetrica: a delivery handler threw: ${err && err.stack ? err.stack : err}`, 'HimetricaWarning');
    }
  }

  /** Queues a custom event; returns at once. Throws HimetricaValidationError for bad input. */
  track(eventName, options = {}) {
    const o = options || {};
    const userId = o.userId, email = o.email, visitorId = o.visitorId;
    const properties = encodeJSON(o.properties, 'properties');
    const timestamp = encodeTimestamp(o.timestamp), session = o.session;
    // The addon takes trailing arguments left off as absent: the common call passes four.
    check(userId === undefined && email === undefined && timestamp === undefined && session === undefined
      ? native.track(this.#h, eventName, visitorId, properties)
      : native.track(this.#h, eventName, visitorId, properties, userId, email, timestamp, session));
  }

  /** Queues an update of the visitor's traits; returns at once. */
  identify(options = {}) {
    const o = options || {};
    check(native.identify(this.#h, o.userId, o.email, o.visitorId, encodeJSON(o.traits, 'traits')));
  }

  /**
   * Resolves a browser visitor id to the Himetrica user id (hm_usr_...). Runs off the event
   * loop; rejects with NotFoundError (404), TimeoutError, HimetricaValidationError, ...
   */
  userId(visitorId, options = {}) {
    try {
      return native.userId(this.#h, visitorId, timeoutOf(options)).then((r) => {
        if (r.status === STATUS.OK) return r.userId;
        throw makeError(r.status, r.message);
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Waits until everything queued so far has an outcome, at most `timeout` ms. Always resolves. */
  flush(options = {}) {
    return this.#settle(native.flush, timeoutOf(options));
  }

  /** Stops intake, sends what it can within `timeout` ms, stops the thread. Always resolves; safe to repeat. */
  shutdown(options = {}) {
    this.#closed = true;
    signals.uninstall(this);
    return this.#settle(native.shutdown, timeoutOf(options));
  }

  /** @internal the process is ending (lib/signals.js): shutdown within exitFlushTimeout, and the
   * core logs one line when requests are left undelivered. */
  _shutdownAtExit() {
    this.#closed = true;
    return this.#settle(native.shutdownAtExit, 0);
  }

  /** @internal milliseconds. */
  get _exitFlushTimeout() { return this.#exitFlushMs; }

  #settle(fn, timeout) {
    let p;
    try {
      p = fn(this.#h, timeout);
    } catch (err) {
      return Promise.resolve({ pending: 0, ok: false, error: err });
    }
    return p.then(
      (r) => ({ pending: r.pending, ok: r.status === STATUS.OK }),
      (err) => ({ pending: 0, ok: false, error: err }),
    );
  }

  /**
   * Counters, read at one instant (so queued === delivered + rejected + gaveUp + dropped +
   * queueDepth + inFlight): queued, delivered, rejected, retried, gaveUp, dropped, throttled,
   * inFlight, queueDepth, sharedPermits, sharedFallbacks, redisErrors.
   */
  stats() {
    const raw = native.stats(this.#h);
    const out = {};
    STATS.forEach((name, i) => { out[camel(name)] = raw[i]; });
    return out;
  }

  get closed() { return this.#closed; }

  toJSON() {
    return { secretKey: this.#maskedKey, endpoint: this.#endpoint ?? null };
  }

  [inspectSymbol](depth, opts, inspect) {
    const fmt = inspect || util.inspect;
    return `Client ${fmt(this.toJSON(), opts)}`;
  }
}

// ------------------------------------------------------------------ middleware

function parseCookie(header, name) {
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') v = v.slice(1, -1);
    try { return decodeURIComponent(v); } catch (_) { return v; }
  }
  return undefined;
}

/** A request's handle: the three operations bound to the request's visitor. */
class RequestHandle {
  constructor(client, visitorId) {
    this.client = client;
    this.visitorId = visitorId || null;
  }

  #identity(o) {
    if (o.userId !== undefined || o.email !== undefined || o.visitorId !== undefined) return o;
    return { ...o, visitorId: this.visitorId ?? undefined };
  }

  track(eventName, options = {}) { this.client.track(eventName, this.#identity(options || {})); }

  identify(options = {}) { this.client.identify(this.#identity(options || {})); }

  userId(options = {}) {
    if (!this.visitorId) return Promise.reject(new HimetricaValidationError('visitorId: the request has no visitor id'));
    return this.client.userId(this.visitorId, options);
  }

  [inspectSymbol]() { return `RequestHandle { visitorId: ${util.inspect(this.visitorId)} }`; }
}

/**
 * Middleware for node:http and Express/Connect: `(req, res, next)`.
 * options: cookie ('hm_vid'), header (e.g. 'x-hm-visitor', read when the cookie is absent),
 * property ('himetrica', the name on req), trackRequests (false), and for tracked requests the
 * contract of every Himetrica middleware (Tests/vectors/request-tracking.json): eventName
 * ('http_request'), serverErrorEventName ('server_error', for 5xx, never sampled out),
 * excludedPaths ([]), sampleRate (1), pathTemplate(req) -> string (the route pattern when the
 * framework gives none; else the route is null, never the raw path).
 * It never throws into the request: a failure is reported through `onError` (default: ignored).
 */
function middleware(client, options = {}) {
  if (!(client instanceof Client)) throw new TypeError('middleware(client): client must be a himetrica Client');
  const cookie = options.cookie || 'hm_vid';
  const header = options.header ? String(options.header).toLowerCase() : undefined;
  const property = options.property || 'himetrica';
  const trackRequests = !!options.trackRequests;
  const tracking = requestTracking.trackingOptions(options);
  const pathTemplate = typeof options.pathTemplate === 'function' ? options.pathTemplate : undefined;
  const onError = typeof options.onError === 'function' ? options.onError : () => {};
  const report = (err) => { try { onError(err); } catch (_) { /* never break a request */ } };

  return function himetrica(req, res, next) {
    try {
      let visitorId = parseCookie(req.headers && req.headers.cookie, cookie);
      if (!visitorId && header && req.headers) {
        const h = req.headers[header];
        visitorId = Array.isArray(h) ? h[0] : h;
      }
      req[property] = new RequestHandle(client, visitorId);
      const urlPath = String(req.originalUrl || req.url || '/').split('?')[0];
      if (trackRequests && visitorId && res && typeof res.once === 'function'
          && !requestTracking.isExcluded(tracking.excludedPaths, urlPath)) {
        const start = process.hrtime.bigint();
        res.once('finish', () => {
          try {
            const status = res.statusCode;
            const name = requestTracking.eventFor(tracking, status, Math.random());
            if (name === null) return;
            let route = null;
            if (req.route && typeof req.route.path === 'string') route = (req.baseUrl || '') + req.route.path;
            else if (pathTemplate) route = pathTemplate(req);
            const durationMs = Number(process.hrtime.bigint() - start) / 1e6;
            client.track(name, { visitorId, properties: requestTracking.properties(req.method, route, status, durationMs) });
          } catch (err) {
            report(err);
          }
        });
      }
    } catch (err) {
      report(err);
    }
    if (typeof next === 'function') return next();
    return undefined;
  };
}

/** For a plain node:http server: wraps `handler(req, res)` with the middleware. */
function withHimetrica(client, handler, options) {
  const mw = middleware(client, options);
  return function (req, res) { return mw(req, res, () => handler(req, res)); };
}

/** The library's version (hm_version()). */
const version = native.version();

// Shorthand names only: Node's ESM loader reads them from this literal (lib/index.mjs).
module.exports = {
  Client,
  middleware,
  withHimetrica,
  RequestHandle,
  HimetricaError,
  HimetricaValidationError,
  QueueFullError,
  ShutDownError,
  TimeoutError,
  NotFoundError,
  UnauthorizedError,
  RejectedError,
  UnavailableError,
  version,
  maskKey,
  _encodeJSON: encodeJSON,
};
