// Hostile clients for bench/soak.sh: each abuse of issue 11 at a steady rate against one node,
// from loopback addresses of its own (127.200.0.0/16; `tandem loadtest --address-per-room` uses
// 127.16.0.0/12), for a given time. Prints a JSON report of what the node answered.
//
//   node bench/abusers.mjs --port PORT --seconds N [--report FILE]
//
// Abusers (names as in the report):
//   handshake_spam  50/s upgrade requests without Sec-WebSocket-Key (expect 400, no slot leaked)
//   room_flood      20/s "connect, JOIN a fresh room, close" from 10 addresses (too_many_rooms)
//   slow_readers    20 members of a busy room (~80 KB/s) that never read (closed by
//                   limits.write_timeout or the send-queue bound; they come back 2 s later)
//   relay_flood     one member sending 60 KB OFFERs at 20/s to a member that never reads
//                   (rate_limited; the reader's queue stays bounded)
//   pin_guessing    20 addresses guessing a room's 4-digit PIN, one JOIN per 200 ms each
//                   (bad_pin, too_many_attempts, closes 1008; a right guess is a breach)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// The WebSocket client the e2e tests use (tests/e2e/node_modules, installed by scripts/deps).
const WebSocket = createRequire(path.join(here, '../tests/e2e/package.json'))('ws');

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => {
  if (a.startsWith('--')) pairs.push([a.slice(2), all[i + 1]]);
  return pairs;
}, []));
const port = Number(args.port);
const seconds = Number(args.seconds ?? 600);
if (!port || !seconds) {
  console.error('usage: node bench/abusers.mjs --port PORT --seconds N [--report FILE]');
  process.exit(2);
}
const deadline = Date.now() + seconds * 1000;
const running = () => Date.now() < deadline;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const wsUrl = `ws://127.0.0.1:${port}/ws`;
const rand = (n) => Math.floor(Math.random() * n);
const hex = (n) => Array.from({ length: n }, () => rand(16).toString(16)).join('');

const report = {};
const count = (abuser, what) => {
  report[abuser] ??= {};
  report[abuser][what] = (report[abuser][what] ?? 0) + 1;
};

// Opens a WebSocket from `localAddress`; resolves when open, rejects on failure (counted).
function open(abuser, localAddress, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { localAddress, handshakeTimeout: 5000, ...options });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      count(abuser, `upgrade ${res.statusCode}`);
      ws.terminate();
      reject(new Error(`upgrade ${res.statusCode}`));
    });
    ws.once('error', (e) => {
      count(abuser, 'connect error');
      reject(e);
    });
  });
}

function join(ws, roomId, userId, extra = {}) {
  ws.send(JSON.stringify({ type: 'JOIN', roomId, userId, username: userId.slice(0, 12), timestamp: Date.now(), ...extra }));
}

// Counts every ERROR code and the close code of `ws` under `abuser`.
function watch(abuser, ws) {
  ws.on('message', (data) => {
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    if (frame.type === 'ERROR') count(abuser, `ERROR ${frame.code}`);
  });
  ws.on('close', (code) => count(abuser, `close ${code}`));
  ws.on('error', () => {});
}

function firstFrame(ws, ms = 5000) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    ws.once('message', (data) => {
      clearTimeout(timer);
      try { resolve(JSON.parse(data)); } catch { resolve(null); }
    });
    ws.once('close', () => { clearTimeout(timer); resolve(null); });
  });
}

async function handshakeSpam() {
  let i = 0;
  while (running()) {
    const localAddress = `127.200.0.${(i++ % 200) + 1}`;
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('error', () => count('handshake_spam', 'socket error'));
    socket.on('connect', () => socket.write('GET /ws HTTP/1.1\r\nHost: tandem\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n'));
    socket.once('data', (data) => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(data.toString('latin1'));
      count('handshake_spam', status ? `HTTP ${status[1]}` : 'not HTTP');
      socket.destroy();
    });
    await sleep(20);
  }
}

async function roomFlood() {
  let i = 0;
  while (running()) {
    const localAddress = `127.200.1.${(i++ % 10) + 1}`;
    open('room_flood', localAddress).then(async (ws) => {
      ws.on('error', () => {});
      join(ws, `flood-${hex(12)}`, `user_f${hex(8)}`);
      const frame = await firstFrame(ws);
      count('room_flood', frame ? (frame.type === 'ERROR' ? `ERROR ${frame.code}` : frame.type) : 'no answer');
      ws.close();
    }, () => {});
    await sleep(50);
  }
}

async function slowReaders() {
  // The busy room: its host changes the URL (4 KB, limits.max_url_bytes) and plays/pauses at 40
  // frames a second (limits.msgs_per_sec is 50): ~80 KB/s into each reader's socket buffers and
  // then its send queue.
  const host = await open('slow_readers', '127.200.2.1');
  watch('slow_readers_host', host);
  join(host, 'soak-slow-room', 'user_slowhost');
  await firstFrame(host);
  const reader = async (k) => {
    while (running()) {
      let ws;
      try {
        ws = await open('slow_readers', `127.200.2.${k + 2}`, { perMessageDeflate: false });
      } catch {
        await sleep(2000);
        continue;
      }
      watch('slow_readers', ws);
      join(ws, 'soak-slow-room', `user_slow${k}`);
      await firstFrame(ws);
      // Stops reading for 90 s (the node should give up on it within limits.write_timeout once
      // the socket buffers are full: about a minute at this rate), then reads again to learn
      // whether the node closed it meanwhile.
      ws._socket.pause();
      const closed = new Promise((resolve) => ws.once('close', resolve));
      await sleep(Math.min(90_000, Math.max(0, deadline - Date.now())));
      ws._socket.resume();
      await Promise.race([closed, sleep(5000)]);
      if (ws.readyState !== WebSocket.CLOSED) {
        count('slow_readers', running() ? 'still open after 90 s unread' : 'still open at the end');
        ws.terminate();
        if (!running()) return;
      }
      await sleep(2000);
    }
  };
  const readers = Array.from({ length: 20 }, (_, k) => reader(k));
  let n = 0;
  while (running() && host.readyState === WebSocket.OPEN) {
    n++;
    const url = `https://www.netflix.com/watch/${n}?x=`;
    host.send(JSON.stringify({ type: 'URL_CHANGE', url: url + 'a'.repeat(4000 - url.length), currentTime: n }));
    host.send(JSON.stringify({ type: 'PLAY_PAUSE', control: n % 2 ? 'play' : 'pause', currentTime: n }));
    await sleep(50);
  }
  host.close();
  await Promise.all(readers);
}

async function relayFlood() {
  const victim = await open('relay_flood', '127.200.3.1', { perMessageDeflate: false });
  watch('relay_flood_victim', victim);
  join(victim, 'soak-relay-room', 'user_relayvictim');
  await firstFrame(victim);
  victim._socket.pause();
  const flooder = await open('relay_flood', '127.200.3.2');
  watch('relay_flood', flooder);
  join(flooder, 'soak-relay-room', 'user_relayflooder');
  const sdp = 'v=0\r\n' + 'a'.repeat(60_000);
  while (running() && flooder.readyState === WebSocket.OPEN) {
    flooder.send(JSON.stringify({ type: 'OFFER', to: 'user_relayvictim', offer: { type: 'offer', sdp } }));
    count('relay_flood', 'OFFER sent');
    await sleep(50);
  }
  flooder.close();
  victim.terminate();
}

async function pinGuessing() {
  const pin = String(1000 + rand(9000));
  const owner = await open('pin_guessing', '127.200.4.1');
  watch('pin_guessing_owner', owner);
  join(owner, 'soak-pin-room', 'user_pinowner', { pin });
  await firstFrame(owner);
  const guesser = async (k) => {
    while (running()) {
      let ws;
      try {
        ws = await open('pin_guessing', `127.200.5.${k + 1}`);
      } catch {
        await sleep(500);
        continue;
      }
      ws.on('error', () => {});
      ws.on('close', (code) => count('pin_guessing', `close ${code}`));
      ws.on('message', (data) => {
        const frame = JSON.parse(data);
        if (frame.type === 'ERROR') count('pin_guessing', `ERROR ${frame.code}`);
        if (frame.type === 'ROOM_STATE') count('pin_guessing', 'BREACH: joined');
      });
      while (running() && ws.readyState === WebSocket.OPEN) {
        const guess = String(1000 + rand(9000));
        join(ws, 'soak-pin-room', `user_guess${k}`, { pin: guess === pin ? '0000' : guess });
        count('pin_guessing', 'guess');
        await sleep(200);
      }
      await sleep(500);
    }
  };
  await Promise.all(Array.from({ length: 20 }, (_, k) => guesser(k)));
  owner.close();
}

const started = Date.now();
const tracked = (name, p) => p.finally(() => { if (process.env.ABUSERS_DEBUG) console.error(`${name} finished after ${Date.now() - started} ms`); });
const results = await Promise.allSettled([
  tracked("handshake_spam", handshakeSpam()), tracked("room_flood", roomFlood()), tracked("slow_readers", slowReaders()),
  tracked("relay_flood", relayFlood()), tracked("pin_guessing", pinGuessing()),
]);
for (const [i, r] of results.entries()) {
  if (r.status === 'rejected') report[`abuser ${i} failed`] = String(r.reason);
}
const out = JSON.stringify({ seconds: Math.round((Date.now() - started) / 1000), report }, null, 2);
if (args.report) fs.writeFileSync(args.report, out + '\n');
console.log(out);
process.exit(0);
