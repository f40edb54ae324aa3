// DESIGN.md "Operability", docs/protocol.md §5, §8: SIGTERM drains, nothing acknowledged is lost, and
// rooms survive a restart on the same data dir.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Client, party } from './lib/client.mjs';
import { startServer } from './lib/server.mjs';
import { sqlString, sqliteQuery } from './lib/sqlite.mjs';
import { roomId as newRoomId, sleep, userId as newUserId } from './lib/util.mjs';

// The audit event type a broadcast frame must have produced (null: not audited / not specified).
function auditedAs(frame) {
  switch (frame.type) {
    case 'USER_JOINED': case 'USER_LEFT': case 'HOST_CHANGED': case 'GUEST_CONTROL':
    case 'USERNAME_UPDATED': case 'URL_CHANGE':
      return [frame.type];
    case 'SEEK_PAUSE':
      return ['SEEK'];
    case 'PLAY_PAUSE':
      return frame.userId === 'server' ? ['GATE_RELEASED', 'PLAY_PAUSE'] : ['PLAY_PAUSE'];
    default:
      return null;
  }
}

test('SIGTERM: clients get close 1012, the process exits 0 within server.drain_timeout, every broadcast event is in room_events', async (t) => {
  const srv = await startServer(t, {
    set: { 'server.drain_timeout': '5s', 'rooms.ready_timeout': '3s', 'limits.msgs_per_sec': 10000, 'limits.msgs_burst': 10000 },
  });
  const roomId = newRoomId('audited');
  const [a, b, c] = await party(srv, 3, { roomId, names: ['Ann', 'Bob', 'Cy'] });
  const r2 = newRoomId('second');
  const [d] = await party(srv, 1, { roomId: r2, prefix: 'd' });
  // A PIN room with a rejected attempt; the PINs must never be stored or logged in clear.
  const pinRoom = newRoomId('pinned');
  const f = await Client.connect(srv);
  await f.join({ roomId: pinRoom, userId: newUserId('f'), pin: '8675309' });
  const g = await Client.connect(srv);
  g.sendJoin({ roomId: pinRoom, userId: newUserId('g'), pin: '5550123' });
  await g.expectError('bad_pin');

  a.send({ type: 'URL_CHANGE', url: 'https://www.netflix.com/watch/81', currentTime: 3 });
  b.send({ type: 'UPDATE_USERNAME', username: 'Robert' });
  a.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: true });
  a.send({ type: 'HOST_HEARTBEAT', currentTime: 4, isPlaying: false });
  a.send({ type: 'CHAT', text: 'not necessarily audited' });
  for (const m of [a, b, c]) await m.next('CHAT');
  c.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 5 });
  await a.next({ type: 'PLAY_PAUSE', userId: c.userId });
  a.send({ type: 'SEEK', currentTime: 20, isPlaying: true });
  await b.next('SEEK_PAUSE');
  b.send({ type: 'READY' });
  await a.next((x) => x.type === 'PLAY_PAUSE' && x.userId === 'server');
  a.send({ type: 'TRANSFER_HOST', targetUserId: b.userId });
  await a.next('HOST_CHANGED');
  c.send({ type: 'LEAVE' });
  await a.next('USER_LEFT');
  const e = await Client.connect(srv);
  await e.join({ roomId, userId: newUserId('e'), username: 'Eve' });
  // A burst right before the signal: everything acknowledged must reach the audit trail.
  const burst = 400;
  for (let i = 0; i < burst; i++) b.send({ type: 'PLAY_PAUSE', control: i % 2 ? 'play' : 'pause', currentTime: i + 1 });
  d.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 1 });
  await d.next('PLAY_PAUSE');
  await a.next((x) => x.type === 'PLAY_PAUSE' && x.currentTime === burst, 10000);
  const lastSeq = a.log.filter((x) => x.seq !== undefined).at(-1).seq;

  const exit = await srv.terminate(15000);
  for (const m of [a, b, e, d, f, g]) {
    const info = await m.waitClose(3000);
    assert.equal(info.code, 1012, `${m.name} closed with ${info.code} ${info.reason}`);
  }
  assert.equal(exit.signal, null, `tandem was killed by ${exit.signal}`);
  assert.equal(exit.code, 0, `tandem exited ${exit.code}\n${srv.logTail()}`);
  assert.ok(exit.at - exit.sentAt <= 6000, `exit took ${exit.at - exit.sentAt} ms (drain_timeout 5 s)`);

  const rows = sqliteQuery(srv.dbPath,
    `SELECT room_id, event_type, user_id, data, created_at, seq, node_id, event_uid FROM room_events WHERE room_id IN (${[roomId, r2, pinRoom].map(sqlString).join(',')})`);
  const has = (room, seq, types, user) => rows.some((r) => r.room_id === room && Number(r.seq) === seq && types.includes(r.event_type) && (user === undefined || r.user_id === user));
  const missing = [];
  // a's own join (its ROOM_STATE seq) and everything a saw broadcast in the room.
  if (!has(roomId, a.roomState.seq, ['USER_JOINED'], a.userId)) missing.push(`USER_JOINED seq ${a.roomState.seq} (creator)`);
  let expectedCount = 0;
  for (const frame of a.log) {
    if (frame.seq === undefined || frame.type === 'ROOM_STATE') continue;
    const types = auditedAs(frame);
    if (!types) continue;
    expectedCount++;
    const user = frame.type === 'PLAY_PAUSE' && frame.userId !== 'server' ? frame.userId : undefined;
    if (!has(roomId, frame.seq, types, user)) missing.push(`${types.join('|')} seq ${frame.seq}`);
  }
  const dPlay = d.log.find((x) => x.type === 'PLAY_PAUSE');
  if (!has(r2, dPlay.seq, ['PLAY_PAUSE'], d.userId)) missing.push(`room 2 PLAY_PAUSE seq ${dPlay.seq}`);
  assert.ok(expectedCount > burst);
  assert.deepEqual(missing, [], `${missing.length} acknowledged events missing from room_events (of ${expectedCount}); last seq ${lastSeq}; rows: ${rows.length}`);
  assert.ok(rows.some((r) => r.room_id === roomId && r.event_type === 'ROOM_CREATED'), 'ROOM_CREATED missing');
  assert.ok(rows.some((r) => r.room_id === pinRoom && r.event_type === 'PIN_REJECTED'), 'PIN_REJECTED missing');
  const gate = rows.find((r) => r.room_id === roomId && r.event_type === 'GATE_RELEASED');
  assert.ok(gate, 'GATE_RELEASED missing');
  assert.deepEqual((({ played, reason }) => ({ played, reason }))(JSON.parse(gate.data)), { played: true, reason: 'quorum' });
  assert.ok(!rows.some((r) => r.event_type === 'ROOM_ARCHIVED'), 'node shutdown must not archive rooms');
  assert.ok(!rows.some((r) => ['PING', 'POSITION_UPDATE', 'HOST_HEARTBEAT'].includes(r.event_type)), 'HOST_HEARTBEAT is not audited');
  const uids = rows.map((r) => r.event_uid);
  assert.equal(new Set(uids).size, uids.length, 'event_uid must be unique');
  assert.ok(rows.every((r) => r.node_id && r.created_at !== null), 'node_id / created_at missing');
  // Every audited seq appears once per event type (no duplicated event from the drain).
  const seen = new Set();
  for (const r of rows) {
    const key = `${r.room_id}|${r.seq}|${r.event_type}`;
    assert.ok(!seen.has(key), `duplicate audit row ${key}`);
    seen.add(key);
  }
  const dump = execFileSync('sqlite3', [srv.dbPath, '.dump'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  for (const pin of ['8675309', '5550123']) {
    assert.ok(!dump.includes(pin), `PIN ${pin} stored in clear in tandem.db`);
    assert.ok(!srv.log.includes(pin), `PIN ${pin} logged in clear`);
  }
});

test('restart: rooms live at SIGTERM are restored on the same data dir (url, position, host, guest control, PIN, seq)', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-restart-'));
  t.after(() => { if (!process.env.TANDEM_E2E_KEEP) fs.rmSync(dataDir, { recursive: true, force: true }); });
  const set = { 'server.drain_timeout': '5s', 'rooms.host_grace': '60s' };
  const one = await startServer(t, { dataDir, set });
  const url = 'https://www.netflix.com/watch/80057281?t=1';
  const paused = newRoomId('paused');
  const [a, b] = await party(one, 2, { roomId: paused });
  a.send({ type: 'URL_CHANGE', url, currentTime: 90 });
  a.send({ type: 'PLAY_PAUSE', control: 'pause', currentTime: 100 });
  a.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: true });
  await b.next('GUEST_CONTROL');
  const lastSeq = b.log.at(-1).seq;
  const playing = newRoomId('playing');
  const [c] = await party(one, 1, { roomId: playing, prefix: 'c' });
  c.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 50 });
  await c.next('PLAY_PAUSE');
  const playingSince = Date.now();
  const pinned = newRoomId('pinned');
  const [d] = await party(one, 1, { roomId: pinned, pin: '1357', prefix: 'p' });
  const exit = await one.terminate();
  assert.equal(exit.code, 0, `first run exited ${exit.code}`);
  for (const m of [a, b, c, d]) assert.equal((await m.waitClose()).code, 1012);
  t.diagnostic(`b's frames around the shutdown: ${b.seqs().join(' ')}`);

  await sleep(300);
  const two = await startServer(t, { dataDir, set });
  // The guest comes back first: the absent host is still named (grace), then the host returns.
  const b2 = await Client.connect(two);
  const sb = await b2.join({ roomId: paused, userId: b.userId, username: 'Member 1' });
  assert.equal(sb.url, url);
  assert.equal(sb.hostUserId, a.userId);
  const a2 = await Client.connect(two);
  const sa = await a2.join({ roomId: paused, userId: a.userId, username: 'Member 0' });
  assert.equal(sa.url, url);
  assert.equal(sa.isPlaying, false);
  assert.ok(Math.abs(sa.currentTime - 100) < 0.5, `restored position ${sa.currentTime}, expected 100`);
  assert.equal(sa.hostUserId, a.userId);
  assert.equal(sa.guestControlEnabled, true);
  // The seq continues (the shutdown's own USER_LEFTs may have taken some numbers).
  const shutdownSeq = Math.max(...b.log.filter((f) => f.seq !== undefined).map((f) => f.seq));
  assert.ok(sb.seq > shutdownSeq, `seq restarted: ${sb.seq} after ${shutdownSeq}`);
  assert.ok(shutdownSeq >= lastSeq);
  assert.equal(sa.seq, sb.seq + 1);
  await b2.next({ type: 'USER_JOINED', userId: a.userId });
  await b2.none('HOST_CHANGED', 300);
  a2.send({ type: 'PLAY_PAUSE', control: 'play' });
  await b2.next({ type: 'PLAY_PAUSE', userId: a.userId });

  const c2 = await Client.connect(two);
  const sc = await c2.join({ roomId: playing, userId: c.userId });
  const elapsed = (Date.now() - playingSince) / 1000;
  assert.equal(sc.isPlaying, true);
  assert.equal(sc.hostUserId, c.userId);
  assert.ok(sc.currentTime >= 50 + elapsed - 1 && sc.currentTime <= 50 + elapsed + 1,
    `playing room restored at ${sc.currentTime}, expected ≈${(50 + elapsed).toFixed(1)}`);

  const intruder = await Client.connect(two);
  intruder.sendJoin({ roomId: pinned, userId: newUserId('i') });
  await intruder.expectError('bad_pin');
  const d2 = await Client.connect(two);
  const sd = await d2.join({ roomId: pinned, userId: d.userId, pin: '1357' });
  assert.equal(sd.hostUserId, d.userId);
  for (const m of [a2, b2, c2]) m.assertSeqOrder();
});
