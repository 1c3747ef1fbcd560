'use strict';
// The opt-in flush on SIGTERM and SIGINT: `new Client({ flushOnSignals: true })`.
//
// SIGTERM is how containers, systemd and Kubernetes stop a process. Node's default action for
// it (and for SIGINT) ends the process at once, without 'exit' handlers or the addon's
// teardown, so without a spool whatever is queued is lost. Nothing here is installed unless a
// client asks for it.
//
// One listener per signal serves every client that opted in. When the signal comes:
// - If the application listens for it too (a listener added before or after this one), the
//   application decides what happens: every opted-in client is flushed within its
//   exitFlushTimeout and the process goes on; a later process.exit() still delivers the rest
//   at teardown.
// - Otherwise, the default action was going to end the process: every opted-in client is shut
//   down within its exitFlushTimeout, this module's listeners are removed and the signal is
//   raised again, so the process ends by that signal, as it would have (exit status 128 +
//   signal number in a shell). A second signal during the flush ends it at once. As PID 1 of a
//   namespace (a container without an init), where the kernel ignores that, it exits with
//   status 128 + signal number.
// The listeners are removed when the last opted-in client is shut down.

const os = require('node:os');

const SIGNALS = ['SIGTERM', 'SIGINT'];

/** Clients that opted in, held weakly (a collected client is shut down by the addon). */
const clients = new Set();
/** Each opted-in client's entry in `clients`. */
const refs = new WeakMap();
let ending = false;

const listeners = Object.fromEntries(SIGNALS.map((signal) => [signal, () => onSignal(signal)]));

function live() {
  const out = [];
  for (const ref of clients) {
    const client = ref.deref();
    if (client && !client.closed) out.push(client);
    else clients.delete(ref);
  }
  return out;
}

function removeListeners() {
  for (const signal of SIGNALS) process.removeListener(signal, listeners[signal]);
}

async function onSignal(signal) {
  const ours = live();
  if (process.listenerCount(signal) > 1) {
    await Promise.all(ours.map((client) => client.flush({ timeout: client._exitFlushTimeout })));
    return;
  }
  if (!ending) {
    ending = true;
    await Promise.all(ours.map((client) => client._shutdownAtExit()));
  }
  removeListeners();
  process.kill(process.pid, signal);
  // The kernel ignores default-action signals sent to a namespace's init (a container started
  // without an init process): end as a shell reports a signal's end.
  if (process.pid === 1) process.exit(128 + os.constants.signals[signal]);
}

/** Flushes `client` on SIGTERM and SIGINT from now on. */
function install(client) {
  if (clients.size === 0) {
    for (const signal of SIGNALS) process.on(signal, listeners[signal]);
  }
  const ref = new WeakRef(client);
  refs.set(client, ref);
  clients.add(ref);
}

/** Stops flushing `client` on signals; removes the listeners with the last client. */
function uninstall(client) {
  const ref = refs.get(client);
  if (!ref || !clients.delete(ref)) return;
  refs.delete(client);
  if (live().length === 0 && !ending) removeListeners();
}

module.exports = { install, uninstall };
