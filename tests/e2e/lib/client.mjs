// A WebSocket client in the extension's image: records every frame it receives (with arrival
// time), lets a test wait for a frame matching a predicate, and checks room `seq` numbers.
import assert from 'node:assert/strict';
import { userId as newUserId } from './util.mjs';

let WebSocket;
try {
  ({ default: WebSocket } = await import('ws'));
} catch (err) {
  const dir = new URL('..', import.meta.url).pathname;
  throw new Error(
    `The e2e suite needs the npm package "ws", which is not installed (${err.code || err.message}). ` +
      `Run: npm ci --prefix ${dir}`);
}
export { WebSocket };

// Frames a room broadcasts (they carry seq) vs. frames to one recipient (they do not).
export const BROADCAST_TYPES = new Set([
  'USER_JOINED', 'USER_LEFT', 'HOST_CHANGED', 'GUEST_CONTROL', 'USERNAME_UPDATED', 'PLAY_PAUSE',
  'SEEK_PAUSE', 'HOST_HEARTBEAT', 'URL_CHANGE',
]);
export const UNICAST_TYPES = new Set(['PONG', 'ERROR', 'SYNC_RESPONSE', 'OFFER', 'ANSWER', 'ICE_CANDIDATE', 'ROOM_STATE']);

function toPredicate(match) {
  if (typeof match === 'function') return match;
  if (typeof match === 'string') return (f) => f.type === match;
  if (match && typeof match === 'object') {
    return (f) => Object.entries(match).every(([k, v]) => f[k] === v);
  }
  throw new TypeError('match must be a type string, an object of fields or a predicate');
}

function describe(match) {
  if (typeof match === 'function') return match.label || match.toString().slice(0, 120);
  return JSON.stringify(match);
}

let clientCounter = 0;

export class Client {
  // Client.connect(server, {name, path, localAddress, headers, ...wsOptions})
  static connect(server, options = {}) {
    const { name, path = '/ws', ...wsOptions } = options;
    const url = typeof server === 'string' ? server : `ws://${server.host}:${server.port}${path}`;
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5000, ...wsOptions });
    const client = new Client(ws, name || `client${++clientCounter}`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => {
        const err = new Error(`WebSocket upgrade to ${url} answered HTTP ${res.statusCode}`);
        err.statusCode = res.statusCode;
        res.resume();
        req.destroy();
        reject(err);
      });
      ws.once('error', (err) => reject(err));
    });
  }

  // Connects and returns {statusCode} of a refused upgrade (or null when it was accepted).
  static async upgradeStatus(server, options = {}) {
    try {
      const c = await Client.connect(server, options);
      c.terminate();
      return null;
    } catch (err) {
      if (err.statusCode) return err.statusCode;
      throw err;
    }
  }

  constructor(ws, name) {
    this.ws = ws;
    this.name = name;
    this.log = []; // every frame received, in order: parsed object with non-enumerable _at
    this.queue = []; // frames not yet consumed by next()
    this.binaryFrames = 0;
    this.waiters = new Set();
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString(), at: Date.now() };
        for (const w of this.waiters) w.check();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {}); // surfaced through close codes
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.binaryFrames++;
        return;
      }
      let frame;
      try {
        frame = JSON.parse(data.toString('utf8'));
      } catch {
        frame = { type: '__UNPARSEABLE__', raw: data.toString('utf8') };
      }
      if (frame === null || typeof frame !== 'object') frame = { type: '__NOT_OBJECT__', raw: frame };
      Object.defineProperty(frame, '_at', { value: Date.now(), enumerable: false });
      this.log.push(frame);
      this.queue.push(frame);
      for (const w of this.waiters) w.check();
    });
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame) {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data, options = {}) {
    this.ws.send(data, options);
  }

  // Consumes and returns the first not yet consumed frame matching `match` (a type string, an
  // object of fields that must be equal, or a predicate). Waits up to timeoutMs.
  next(match, timeoutMs = 3000) {
    const pred = toPredicate(match);
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          const i = this.queue.findIndex(pred);
          if (i >= 0) {
            const [frame] = this.queue.splice(i, 1);
            clearTimeout(timer);
            this.waiters.delete(waiter);
            resolve(frame);
          } else if (this.closeInfo) {
            clearTimeout(timer);
            this.waiters.delete(waiter);
            reject(new Error(`${this.name}: closed (${this.closeInfo.code} ${this.closeInfo.reason}) before a frame matching ` +
              `${describe(match)} arrived; unconsumed: ${this.dumpQueue()}`));
          }
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.name}: no frame matching ${describe(match)} within ${timeoutMs} ms; ` +
          `unconsumed: ${this.dumpQueue()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  // Asserts that no frame matching `match` is (or arrives within ms) in the unconsumed queue.
  async none(match, ms = 300) {
    const pred = toPredicate(match);
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.queue.find(pred);
      if (hit) assert.fail(`${this.name}: unexpected frame ${JSON.stringify(hit)} (matching ${describe(match)})`);
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(left, 25)));
    }
  }

  // Returns (and consumes) every queued frame matching `match`.
  take(match) {
    const pred = toPredicate(match);
    const out = this.queue.filter(pred);
    this.queue = this.queue.filter((f) => !pred(f));
    return out;
  }

  drain() {
    const out = this.queue;
    this.queue = [];
    return out;
  }

  dumpQueue(max = 8) {
    const q = this.queue.slice(-max).map((f) => JSON.stringify(f).slice(0, 300));
    return `[${this.queue.length > max ? `…${this.queue.length - max} more, ` : ''}${q.join(', ')}]`;
  }

  async expectError(code, timeoutMs = 3000) {
    const frame = await this.next((f) => f.type === 'ERROR', timeoutMs);
    assert.equal(frame.code, code, `${this.name}: expected ERROR ${code}, got ${JSON.stringify(frame)}`);
    assert.equal(typeof frame.message, 'string', `${this.name}: ERROR without message: ${JSON.stringify(frame)}`);
    assert.equal(frame.seq, undefined, `${this.name}: ERROR carries a seq: ${JSON.stringify(frame)}`);
    return frame;
  }

  // Sends JOIN like the extension (userId, roomId, username, pin, timestamp).
  sendJoin({ roomId, userId, username = null, pin = null, token, extra = {} }) {
    this.userId = userId;
    const frame = { type: 'JOIN', userId, roomId, username, pin, timestamp: Date.now(), ...extra };
    if (token !== undefined) frame.token = token;
    this.send(frame);
  }

  // JOIN and wait for ROOM_STATE (fails on an ERROR instead).
  async join(params, timeoutMs = 5000) {
    this.sendJoin(params);
    const frame = await this.next((f) => f.type === 'ROOM_STATE' || f.type === 'ERROR', timeoutMs);
    if (frame.type === 'ERROR') assert.fail(`${this.name}: JOIN ${JSON.stringify(params)} answered ${JSON.stringify(frame)}`);
    this.roomState = frame;
    this.roomId = params.roomId;
    return frame;
  }

  close(code = 1000, reason) {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  terminate() {
    this.ws.terminate();
  }

  async waitClose(timeoutMs = 3000) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name}: still open after ${timeoutMs} ms; unconsumed: ${this.dumpQueue()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // Frames of the log that carry a seq, with ROOM_STATE as the base of each (re-)join.
  // Checks: the first broadcast after a ROOM_STATE(seq s) has seq s+1, then +1 each; broadcast
  // types always carry seq; one-recipient frames never do.
  assertSeqOrder() {
    let expected = null;
    for (const f of this.log) {
      if (f.type === 'ROOM_STATE') {
        assert.ok(Number.isInteger(f.seq), `${this.name}: ROOM_STATE without integer seq: ${JSON.stringify(f)}`);
        expected = f.seq + 1;
        continue;
      }
      if (f.type === 'ERROR' || f.type === 'PONG' || f.type === 'SYNC_RESPONSE' || typeof f.from === 'string') {
        assert.equal(f.seq, undefined, `${this.name}: one-recipient frame carries seq: ${JSON.stringify(f)}`);
        continue;
      }
      if (BROADCAST_TYPES.has(f.type)) {
        assert.ok(Number.isInteger(f.seq), `${this.name}: broadcast without seq: ${JSON.stringify(f)}`);
      }
      if (f.seq === undefined) continue;
      assert.notEqual(expected, null, `${this.name}: broadcast before ROOM_STATE: ${JSON.stringify(f)}`);
      assert.equal(f.seq, expected,
        `${this.name}: seq gap/duplicate/reorder: expected ${expected}, got ${JSON.stringify(f)}; seqs: ${this.seqs().join(',')}`);
      expected++;
    }
  }

  seqs() {
    return this.log.filter((f) => f.seq !== undefined).map((f) => `${f.type}:${f.seq}`);
  }

  // seq -> frame for every broadcast this client received.
  broadcasts() {
    const map = new Map();
    for (const f of this.log) if (f.type !== 'ROOM_STATE' && f.seq !== undefined) map.set(f.seq, f);
    return map;
  }
}

// All clients saw the same broadcast (type, userId) for every seq they both received.
export function assertSameBroadcasts(clients) {
  const reference = new Map();
  for (const c of clients) {
    for (const [seq, f] of c.broadcasts()) {
      const key = `${f.type}|${f.userId ?? ''}|${f.hostUserId ?? ''}`;
      if (!reference.has(seq)) reference.set(seq, { key, by: c.name });
      else assert.equal(key, reference.get(seq).key, `seq ${seq}: ${c.name} got ${key}, ${reference.get(seq).by} got ${reference.get(seq).key}`);
    }
  }
}

// Connects and joins `count` members into one room; the first is the host.
export async function party(server, count, { roomId, names, pin, prefix = 'm' } = {}) {
  const members = [];
  for (let i = 0; i < count; i++) {
    const c = await Client.connect(server, { name: `${prefix}${i}` });
    await c.join({ roomId, userId: newUserId(`${prefix}${i}_`), username: names ? names[i] : `Member ${i}`, pin });
    members.push(c);
  }
  // Everyone has seen everyone join: consume the USER_JOINED frames.
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) await members[i].next({ type: 'USER_JOINED', userId: members[j].userId });
  }
  return members;
}

// A room of two bystanders that must keep working while another connection misbehaves.
export async function bystanders(server) {
  const roomId = `bystanders_${Date.now()}_${Math.random().toString(16).slice(2, 8)}`;
  const [p, q] = await party(server, 2, { roomId, prefix: 'bystander' });
  let playing = false;
  return {
    clients: [p, q],
    // The host plays/pauses; both receive it with consecutive seqs.
    async check(label = '') {
      playing = !playing;
      const control = playing ? 'play' : 'pause';
      p.send({ type: 'PLAY_PAUSE', control, currentTime: 10, eventTimestamp: Date.now(), userId: p.userId, roomId });
      const a = await p.next({ type: 'PLAY_PAUSE', control }, 5000).catch((e) => { throw new Error(`bystander check ${label}: ${e.message}`); });
      const b = await q.next({ type: 'PLAY_PAUSE', control }, 5000).catch((e) => { throw new Error(`bystander check ${label}: ${e.message}`); });
      assert.equal(a.seq, b.seq, `bystanders got different seqs ${label}`);
      p.assertSeqOrder();
      q.assertSeqOrder();
    },
    close() {
      p.terminate();
      q.terminate();
    },
  };
}
