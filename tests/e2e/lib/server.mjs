// Starts the built `tandem serve` binary on a free loopback port with a temporary data dir,
// waits for GET /ready = 200, and stops/kills it at the end of the test.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { httpRequest } from './http.mjs';
import { sleep } from './util.mjs';

const binary = process.env.TANDEM_BINARY;
if (!binary) {
  throw new Error(
    'TANDEM_BINARY is not set: point it at the built `tandem` executable ' +
      '(ctest sets it; by hand: TANDEM_BINARY=/path/to/build/cli/tandem node --test --test-concurrency=1 tests/e2e/)');
}
if (!fs.existsSync(binary)) {
  throw new Error(`TANDEM_BINARY=${binary} does not exist: build the \`tandem\` target first`);
}
export const TANDEM_BINARY = binary;

const live = new Set();
process.on('exit', () => {
  for (const proc of live) {
    try { proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export async function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export class TandemServer {
  constructor({ port, host, dataDir, ownsDataDir, proc, args }) {
    this.port = port;
    this.host = host;
    this.dataDir = dataDir;
    this.ownsDataDir = ownsDataDir;
    this.proc = proc;
    this.args = args;
    this.base = `http://${host}:${port}`;
    this.wsUrl = `ws://${host}:${port}/ws`;
    this.dbPath = path.join(dataDir, 'tandem.db');
    this.log = '';
    this.exit = null; // {code, signal, at}
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        live.delete(proc);
        this.exit = { code, signal, at: Date.now() };
        resolve(this.exit);
      });
    });
    const keep = (chunk) => {
      this.log += chunk.toString();
      if (this.log.length > 400_000) this.log = this.log.slice(-200_000);
      if (process.env.TANDEM_E2E_LOG) process.stderr.write(chunk);
    };
    proc.stderr.on('data', keep);
    proc.stdout.on('data', keep);
  }

  logTail(chars = 4000) {
    return this.log.slice(-chars);
  }

  get running() {
    return this.exit === null;
  }

  // SIGTERM, then wait for the exit (SIGKILL after `timeoutMs`). Returns {code, signal, at, sentAt}.
  async terminate(timeoutMs = 15000) {
    const sentAt = Date.now();
    if (this.running) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => { if (this.running) this.proc.kill('SIGKILL'); }, timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, sentAt };
  }

  async cleanup() {
    if (this.running) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
    if (this.ownsDataDir && !process.env.TANDEM_E2E_KEEP) {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

// startServer(t, {set, env, dataDir, keepDataDir, args, launcher})
//   set: {'limits.max_frame_bytes': 4096, ...} -> --set key=value
//   env: extra environment for the process
//   dataDir: reuse a directory (the caller owns it); default: a fresh temp dir removed at the end
//   launcher: a command the binary is started under, e.g. ['taskset', '-c', '0']
//   internalPort: true -> server.internal_port on a free port; server.internal is then {host, port}
//     for httpRequest (readiness is awaited there)
// Registers cleanup with t.after when t is given.
export async function startServer(t, options = {}) {
  const { set = {}, env = {}, args = [], launcher = [], readyTimeoutMs = 30000 } = options;
  let dataDir = options.dataDir;
  const ownsDataDir = !dataDir && !options.keepDataDir;
  if (!dataDir) dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-'));

  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const host = '127.0.0.1';
    const argv = ['serve', '--port', String(port), '--host', host, '--data-dir', dataDir, '--log-format', 'json'];
    let internal;
    if (options.internalPort) {
      internal = { host, port: await freePort() };
      argv.push('--set', `server.internal_port=${internal.port}`);
    }
    for (const [key, value] of Object.entries(set)) argv.push('--set', `${key}=${value}`);
    argv.push(...args);
    const [command, ...commandArgs] = [...launcher, binary, ...argv];
    const proc = spawn(command, commandArgs, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(proc);
    const server = new TandemServer({ port, host, dataDir, ownsDataDir, proc, args: argv });
    server.internal = internal;
    if (t) t.after(() => server.cleanup());
    try {
      await waitReady(server, readyTimeoutMs);
      return server;
    } catch (err) {
      lastError = err;
      await server.cleanup().catch(() => {});
      // Another process may have taken the port between probe and bind: try another one.
      if (!/address (already )?in use|EADDRINUSE|bind/i.test(server.log)) break;
    }
  }
  throw lastError;
}

async function waitReady(server, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!server.running) {
      throw new Error(`tandem serve exited before it was ready (${JSON.stringify(server.exit)}): ` +
        `${server.args.join(' ')}\n--- server log ---\n${server.logTail()}`);
    }
    try {
      const res = await httpRequest(server.internal ?? server, { path: '/ready', timeoutMs: 1000 });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(50);
  }
  throw new Error(`tandem serve not ready within ${timeoutMs} ms (${last})\n--- server log ---\n${server.logTail()}`);
}
