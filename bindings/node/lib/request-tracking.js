'use strict';
// The request-tracking contract every Himetrica middleware keeps (Swift, Node, Python), written
// down as data in Tests/vectors/request-tracking.json: what a tracked request is sent as.

/** The contract's defaults. */
const DEFAULTS = Object.freeze({
  eventName: 'http_request',
  serverErrorEventName: 'server_error',
  excludedPaths: Object.freeze([]),
  sampleRate: 1,
});

/** Whether `path` is an entry of `excludedPaths` or below one (`/health` covers `/health/db`, not `/healthz`). */
function isExcluded(excludedPaths, path) {
  return excludedPaths.some((entry) => path === entry || path.startsWith(entry.endsWith('/') ? entry : `${entry}/`));
}

/**
 * The event a finished request is tracked as, or null when sampling leaves it out. A 5xx is
 * `serverErrorEventName` (null: `eventName`, sampled) and never sampled out. `draw` is a
 * uniform random number in [0, 1), handed in so the rule is exact to test.
 */
function eventFor(tracking, status, draw) {
  if (status >= 500 && tracking.serverErrorEventName != null) return tracking.serverErrorEventName;
  return draw < tracking.sampleRate ? tracking.eventName : null;
}

/** The event's properties; `route` is the route pattern or null, never the raw path. */
function properties(method, route, status, durationMs) {
  return { method, route: route == null ? null : String(route), status, durationMs: Math.round(durationMs * 1000) / 1000 };
}

/** The tracking settings from a middleware's options, with the contract's defaults. */
function trackingOptions(options) {
  const sampleRate = options.sampleRate === undefined ? DEFAULTS.sampleRate : Number(options.sampleRate);
  if (!(sampleRate >= 0 && sampleRate <= 1)) throw new RangeError('middleware: sampleRate must be between 0 and 1');
  const excludedPaths = options.excludedPaths === undefined ? DEFAULTS.excludedPaths : Array.from(options.excludedPaths, String);
  return {
    eventName: options.eventName || DEFAULTS.eventName,
    serverErrorEventName: options.serverErrorEventName === undefined ? DEFAULTS.serverErrorEventName : options.serverErrorEventName,
    excludedPaths,
    sampleRate,
  };
}

module.exports = { DEFAULTS, isExcluded, eventFor, properties, trackingOptions };
