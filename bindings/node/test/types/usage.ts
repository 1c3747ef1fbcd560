// Every public call of the himetrica package, as a TypeScript user writes it, checked by
// `tsc --strict --noEmit` against index.d.ts (make test-node-types). At the end, calls the
// types must refuse, each under a ts-expect-error directive: tsc fails if one is accepted.
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import {
  Client,
  ClientOptions,
  DeliveryOutcome,
  HimetricaError,
  HimetricaValidationError,
  maskKey,
  middleware,
  Middleware,
  NotFoundError,
  QueueFullError,
  RateLimit,
  RejectedError,
  RequestHandle,
  SettleResult,
  ShutDownError,
  Stats,
  TimeoutError,
  UnauthorizedError,
  UnavailableError,
  version,
  withHimetrica,
} from 'himetrica';

const limit: RateLimit = { count: 1000, seconds: 60 };
const options: ClientOptions = {
  secretKey: process.env.HIMETRICA_SECRET_KEY,
  endpoint: process.env.HIMETRICA_ENDPOINT,
  queueCapacity: 10000,
  maxInFlight: 8,
  maxAttempts: 10,
  maxRetryAge: 600000,
  retryBaseDelay: 250,
  retryMaxDelay: 30000,
  connectTimeout: 5000,
  requestTimeout: 10000,
  exitFlushTimeout: 2000,
  userIdCacheCapacity: 10000,
  notFoundCacheSeconds: 10,
  maxResponseBytes: 65536,
  caFile: '/etc/ssl/certs/ca-certificates.crt',
  allowInsecureHttp: false,
  rateLimitTrack: limit,
  rateLimitIdentify: '500/60',
  rateLimitUserId: null,
  onDelivery: (outcome: DeliveryOutcome) => {
    const fields: [string, string, number, number, string | null, string | null] = [
      outcome.outcome, outcome.endpoint, outcome.status, outcome.attempts, outcome.message, outcome.body,
    ];
    void fields;
  },
  logger: (level: number, message: string) => { void level; void message; },
  logLevel: 'warning',
};

async function clientCalls(): Promise<void> {
  const client = new Client(options);
  client.track('signup', { visitorId: 'v1', properties: { plan: 'pro' }, timestamp: new Date(), session: 'latest' });
  client.track(Uint8Array.from([0x65, 0x76]), { email: 'a@b.c', properties: new Uint8Array(0), timestamp: 0 });
  client.track('by_user', { userId: 'hm_usr_0123456789abcdef01234567', timestamp: '2026-01-31T12:00:00Z', session: 'new' });
  client.identify({ visitorId: 'v1', traits: { email: 'a@b.c', name: 'Ada' } });
  const user: string = await client.userId('v1', { timeout: 2000 });
  const flushed: SettleResult = await client.flush({ timeout: 5000 });
  const pending: number = flushed.pending;
  const ok: boolean = flushed.ok;
  const stats: Stats = client.stats();
  const counters: number[] = [stats.queued, stats.delivered, stats.rejected, stats.retried, stats.gaveUp,
    stats.dropped, stats.throttled, stats.inFlight, stats.queueDepth];
  client.on('delivery', (o: DeliveryOutcome) => { void o.outcome; });
  client.on('other', (...args: any[]) => { void args; });
  const closed: boolean = client.closed;
  const shown: { secretKey: string | null; endpoint: string | null } = client.toJSON();
  const done: SettleResult = await client.shutdown();
  void [user, pending, ok, counters, closed, shown, done.error];

  try {
    await new Client().userId('unknown');
  } catch (err) {
    if (err instanceof HimetricaError) {
      const status: number = err.status;
      const code: string = err.code;
      const message: string = err.message;
      void [status, code, message];
    }
  }
  const classes: (typeof HimetricaError)[] = [HimetricaValidationError, QueueFullError, ShutDownError, TimeoutError,
    NotFoundError, UnauthorizedError, RejectedError, UnavailableError];
  void classes;
}

function middlewareCalls(client: Client): void {
  const mw: Middleware = middleware(client, {
    cookie: 'hm_vid',
    header: 'x-hm-visitor',
    property: 'himetrica',
    trackRequests: true,
    eventName: 'http_request',
    pathTemplate: (req: IncomingMessage) => req.url ?? '/',
    onError: (err: unknown) => { void err; },
  });
  const server = createServer((req, res) => mw(req, res, () => {
    const handle: RequestHandle | undefined = (req as IncomingMessage & { himetrica?: RequestHandle }).himetrica;
    res.end(handle ? handle.visitorId ?? '' : '');
  }));
  void server;
  const handler = withHimetrica(client, async (req, res: ServerResponse) => {
    const handle = req.himetrica;
    if (!handle) return;
    const same: Client = handle.client;
    const visitor: string | null = handle.visitorId;
    handle.track('viewed', { properties: { path: req.url ?? '' } });
    handle.track('by_email', { email: 'a@b.c' });
    handle.identify({ traits: { name: 'Ada' } });
    const user: string = await handle.userId({ timeout: 1000 });
    void [same, visitor, user];
    res.end();
  }, { trackRequests: true });
  createServer(handler).listen(0, '127.0.0.1');
}

const v: string = version;
const masked: string | null = maskKey('hm_sk_' + 'x'.repeat(16));
void [v, masked, clientCalls, middlewareCalls];

// Calls the types refuse.
const c = new Client();
// @ts-expect-error an event name is a string or bytes
c.track(42, { visitorId: 'v' });
// @ts-expect-error track needs its options (the identity)
c.track('e');
// @ts-expect-error identify needs traits
c.identify({ visitorId: 'v' });
// @ts-expect-error session is 'latest' or 'new'
c.track('e', { visitorId: 'v', session: 'old' });
// @ts-expect-error options are camelCase (max_in_flight is the C/Python name)
new Client({ max_in_flight: 4 });
// @ts-expect-error userId resolves to a string, not a number
const wrong: Promise<number> = c.userId('v');
// @ts-expect-error the log level is one of the named levels or a number
new Client({ logLevel: 'verbose' });
void wrong;
