// ESM entry: the same objects as the CommonJS entry (one addon instance per environment).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const himetrica = require('./index.js');

export const {
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
} = himetrica;
export default himetrica;
