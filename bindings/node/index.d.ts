// Types for the himetrica package (Node binding of the Himetrica server toolkit).
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A rate limit: "COUNT/SECONDS" (e.g. "1000/60"), { count, seconds }, or "none"/null for no limit. */
export type RateLimit = string | { count: number; seconds: number } | null | false;

export interface DeliveryOutcome {
  /** How the request ended. */
  outcome: 'delivered' | 'rejected' | 'gave_up' | 'dropped';
  endpoint: 'track' | 'identify';
  /** Last HTTP status, 0 when no answer came. */
  status: number;
  attempts: number;
  /** The server's or the transport's error when not delivered. */
  message: string | null;
  /** The request's JSON body. */
  body: string | null;
}

export interface ClientOptions {
  /** hm_sk_...; defaults to process.env.HIMETRICA_SECRET_KEY. */
  secretKey?: string;
  /** Base URL of the Server API, e.g. https://.../api/v1. */
  endpoint?: string;
  queueCapacity?: number;
  maxInFlight?: number;
  maxAttempts?: number;
  /** Milliseconds (as every duration of this package). */
  maxRetryAge?: number;
  retryBaseDelay?: number;
  retryMaxDelay?: number;
  connectTimeout?: number;
  requestTimeout?: number;
  /** How long pending events may take to send when the process or worker ends. */
  exitFlushTimeout?: number;
  userIdCacheCapacity?: number;
  /** Seconds (the one option named in seconds). */
  notFoundCacheSeconds?: number;
  maxResponseBytes?: number;
  caFile?: string;
  allowInsecureHttp?: boolean;
  rateLimitTrack?: RateLimit;
  rateLimitIdentify?: RateLimit;
  rateLimitUserId?: RateLimit;
  /** A spool directory shared by the host's processes (defaults to process.env.HIMETRICA_SPOOL):
   * accepted calls are committed there and survive exits, crashes and restarts. */
  spool?: string;
  /** Milliseconds: the longest a call waits before it is committed to the spool (default 10). */
  spoolCommitInterval?: number;
  /** 'normal' (survives a process crash) or 'full' (fsync each commit; survives power loss). */
  spoolSync?: 'normal' | 'full';
  /** Past this many bytes of spool, calls fail with the queue-full error (default 256 MiB). */
  spoolMaxBytes?: number;
  /** Called on the event loop with each track/identify request's final outcome. */
  onDelivery?: (outcome: DeliveryOutcome) => void;
  /** Receives the library's log lines (instead of standard error). */
  logger?: (level: number, message: string) => void;
  logLevel?: 'trace' | 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | number;
}

/** Raw JSON text (passed to the core byte for byte) or any JSON-serializable value. */
export type JSONInput = Record<string, unknown> | Uint8Array;

export interface Identity {
  userId?: string | Uint8Array;
  email?: string | Uint8Array;
  visitorId?: string | Uint8Array;
}

export interface TrackOptions extends Identity {
  properties?: JSONInput;
  /** ISO 8601 string, Date or epoch milliseconds; default: the call's time. */
  timestamp?: string | Date | number | Uint8Array;
  session?: 'latest' | 'new' | Uint8Array;
}

export interface IdentifyOptions extends Identity {
  traits: JSONInput;
}

export interface TimeoutOptions {
  /** Milliseconds; default 10000. */
  timeout?: number;
}

export interface SettleResult {
  /** Requests still waiting or in flight (flush) / dropped (shutdown). */
  pending: number;
  /** True when nothing is pending. */
  ok: boolean;
  error?: unknown;
}

export interface Stats {
  queued: number;
  delivered: number;
  rejected: number;
  retried: number;
  gaveUp: number;
  dropped: number;
  throttled: number;
  inFlight: number;
  queueDepth: number;
  /** With a spool: calls this process committed to it. */
  spooled: number;
  /** With a spool: bytes its files take. */
  spoolBytes: number;
  /** With a spool: requests sent again after an earlier sender died having started them. */
  resent: number;
  /** With a spool: 1 while this process is the spool's sender. */
  sender: number;
  /** With a spool: times it failed at run time and the client fell back to memory. */
  spoolErrors: number;
}

export declare class Client extends EventEmitter {
  constructor(options?: ClientOptions);
  track(eventName: string | Uint8Array, options: TrackOptions): void;
  identify(options: IdentifyOptions): void;
  userId(visitorId: string | Uint8Array, options?: TimeoutOptions): Promise<string>;
  flush(options?: TimeoutOptions): Promise<SettleResult>;
  shutdown(options?: TimeoutOptions): Promise<SettleResult>;
  stats(): Stats;
  readonly closed: boolean;
  on(event: 'delivery', listener: (outcome: DeliveryOutcome) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export declare class RequestHandle {
  readonly client: Client;
  readonly visitorId: string | null;
  track(eventName: string, options?: Omit<TrackOptions, keyof Identity> & Identity): void;
  identify(options: IdentifyOptions): void;
  userId(options?: TimeoutOptions): Promise<string>;
}

export interface MiddlewareOptions {
  /** Cookie holding the visitor id; default "hm_vid". */
  cookie?: string;
  /** Header read when the cookie is absent, e.g. "x-hm-visitor". */
  header?: string;
  /** Name of the handle on req; default "himetrica". */
  property?: string;
  /** Track each request on res 'finish': method, route, status, durationMs. */
  trackRequests?: boolean;
  /** Default "http_request". */
  eventName?: string;
  /** The route to report when the framework gives none (default: the path without query). */
  pathTemplate?: (req: IncomingMessage) => string;
  onError?: (err: unknown) => void;
}

export type Middleware = (req: IncomingMessage & { himetrica?: RequestHandle }, res: ServerResponse, next?: (err?: unknown) => void) => void;
export declare function middleware(client: Client, options?: MiddlewareOptions): Middleware;
export declare function withHimetrica(
  client: Client,
  handler: (req: IncomingMessage & { himetrica?: RequestHandle }, res: ServerResponse) => void,
  options?: MiddlewareOptions,
): (req: IncomingMessage, res: ServerResponse) => void;

export declare class HimetricaError extends Error {
  /** The core's status number. */
  readonly status: number;
  /** e.g. "HM_ERR_NOT_FOUND". */
  readonly code: string;
}
export declare class HimetricaValidationError extends HimetricaError {}
export declare class QueueFullError extends HimetricaError {}
export declare class ShutDownError extends HimetricaError {}
export declare class TimeoutError extends HimetricaError {}
export declare class NotFoundError extends HimetricaError {}
export declare class UnauthorizedError extends HimetricaError {}
export declare class RejectedError extends HimetricaError {}
export declare class UnavailableError extends HimetricaError {}

export declare const version: string;
export declare function maskKey(key: string): string | null;
