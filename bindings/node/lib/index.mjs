// ESM entry: the same objects as the CommonJS entry (one addon instance per environment).
// Node reads their names from index.js's `module.exports = { ... }`, so none is listed twice.
export * from './index.js';
export { default } from './index.js';
