// docs/protocol.md §2: PIN-protected rooms.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Client, party } from './lib/client.mjs';
import { startServer } from './lib/server.mjs';
import { sqlString, sqliteQuery } from './lib/sqlite.mjs';
import { roomId as newRoomId, sleep, userId as newUserId } from './lib/util.mjs';

test('PIN: wrong or missing PIN → bad_pin "Invalid or missing PIN" and the socket stays unbound; right PIN (string or number) joins', async (t) => {
  const srv = await startServer(t, { set: { 'limits.pin_attempts': 5 } });
  const roomId = newRoomId();
  const host = await Client.connect(srv, { name: 'host' });
  await host.join({ roomId, userId: newUserId('h'), username: 'Host', pin: '123456' });
  const intruder = await Client.connect(srv, { name: 'intruder' });
  const iu = newUserId('i');
  for (const pin of [null, '', '654321', undefined]) {
    const frame = { type: 'JOIN', roomId, userId: iu, username: 'Eve', timestamp: Date.now() };
    if (pin !== undefined) frame.pin = pin;
    intruder.send(frame);
    const err = await intruder.expectError('bad_pin');
    assert.equal(err.message, 'Invalid or missing PIN');
  }
  // Not bound: member frames are refused.
  intruder.send({ type: 'PLAY_PAUSE', control: 'play', userId: iu, roomId });
  await intruder.expectError('not_joined');
  intruder.send({ type: 'CHAT', text: 'hi', userId: iu, roomId });
  await intruder.expectError('not_joined');
  intruder.send({ type: 'OFFER', to: host.userId, offer: { sdp: 'x' } });
  await intruder.expectError('not_joined');
  await host.none((f) => f.type !== 'PONG', 300);
  assert.ok(intruder.isOpen);
  // The right PIN, as a string and as a number.
  const ok = await Client.connect(srv);
  const state = await ok.join({ roomId, userId: newUserId('g'), username: 'Guest', pin: '123456' });
  assert.equal(state.hostUserId, host.userId);
  assert.equal((await host.next('USER_JOINED')).userId, ok.userId);
  const num = await Client.connect(srv);
  await num.join({ roomId, userId: newUserId('n'), pin: 123456 });
  await host.next('USER_JOINED');
  for (const m of [host, ok, num]) m.assertSeqOrder();
});

test('PIN: the limits.pin_attempts-th wrong attempt on one connection still gets bad_pin, then close 1008', async (t) => {
  const srv = await startServer(t, { set: { 'limits.pin_attempts': 3, 'limits.pin_attempts_per_ip_minute': 100 } });
  const roomId = newRoomId();
  const host = await Client.connect(srv);
  await host.join({ roomId, userId: newUserId('h'), pin: '2468' });
  const c = await Client.connect(srv);
  const uid = newUserId('x');
  c.sendJoin({ roomId, userId: uid, pin: '1111' });
  await c.expectError('bad_pin');
  // A malformed PIN counts as a wrong attempt (invalid_pin).
  c.sendJoin({ roomId, userId: uid, pin: 'x'.repeat(17) });
  await c.expectError('invalid_pin');
  assert.ok(c.isOpen);
  c.sendJoin({ roomId, userId: uid, pin: '3333' });
  await c.expectError('bad_pin');
  const closed = await c.waitClose(2000);
  assert.equal(closed.code, 1008);
  // Other connections are not affected; the right PIN still works.
  const d = await Client.connect(srv);
  await d.join({ roomId, userId: newUserId('d'), pin: '2468' });
});

test('PIN: limits.pin_attempts_per_room_minute: beyond it a room checks no more PINs, except from its members\' addresses', async (t) => {
  const srv = await startServer(t, { set: { 'limits.pin_attempts_per_room_minute': 3, 'limits.pin_attempts_per_ip_minute': 100 } });
  const roomId = newRoomId();
  const host = await Client.connect(srv, { localAddress: '127.0.0.1' });
  await host.join({ roomId, userId: newUserId('h'), pin: '2468' });
  // Three wrong PINs from three addresses: each is checked and refused.
  for (const addr of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
    const guesser = await Client.connect(srv, { localAddress: addr });
    guesser.sendJoin({ roomId, userId: newUserId('g'), pin: '1111' });
    await guesser.expectError('bad_pin');
  }
  // At the bound even the right PIN from a new address is refused unchecked ...
  const newcomer = await Client.connect(srv, { localAddress: '127.0.0.5' });
  newcomer.sendJoin({ roomId, userId: newUserId('n'), pin: '2468' });
  const refused = await newcomer.expectError('too_many_attempts');
  assert.equal(refused.code, 'too_many_attempts');
  // ... while a member's address (another device of the host's household) still gets in.
  const second = await Client.connect(srv, { localAddress: '127.0.0.1' });
  await second.join({ roomId, userId: newUserId('s'), pin: '2468' });
  await host.next({ type: 'USER_JOINED' });
});

test('PIN: malformed PINs (17 chars, non-integer number, object) are invalid_pin', async (t) => {
  const srv = await startServer(t, { set: { 'limits.pin_attempts': 50 } });
  const roomId = newRoomId();
  const host = await Client.connect(srv);
  await host.join({ roomId, userId: newUserId('h'), pin: '0' });
  const c = await Client.connect(srv);
  for (const pin of ['1'.repeat(17), 12.5, { p: 1 }, true, -1.5]) {
    c.sendJoin({ roomId, userId: newUserId('c'), pin });
    await c.expectError('invalid_pin');
  }
  // Creating a room with a malformed PIN fails too, and creates nothing: the next JOIN of that id
  // creates the room itself (it becomes host, its own PIN protects it).
  const r2 = newRoomId();
  c.sendJoin({ roomId: r2, userId: newUserId('c'), pin: '1'.repeat(17) });
  await c.expectError('invalid_pin');
  const creator = await Client.connect(srv);
  const created = await creator.join({ roomId: r2, userId: newUserId('k'), pin: '5555' });
  assert.equal(created.hostUserId, creator.userId);
  assert.deepEqual(created.users.map((u) => u.userId), [creator.userId]);
  const outsider = await Client.connect(srv);
  outsider.sendJoin({ roomId: r2, userId: newUserId('o') });
  await outsider.expectError('bad_pin');
  // 0 as a number is "0".
  await c.join({ roomId, userId: newUserId('c'), pin: 0 });
});

test('PIN: the PIN lives exactly as long as its room', async (t) => {
  const srv = await startServer(t);
  const roomId = newRoomId();
  const [a] = await party(srv, 1, { roomId, pin: '9999' });
  a.send({ type: 'LEAVE' });
  await a.waitClose();
  const b = await Client.connect(srv);
  const state = await b.join({ roomId, userId: newUserId('b') });
  assert.equal(state.hostUserId, b.userId, 'after the last LEAVE the room and its PIN are gone');
  const c = await Client.connect(srv);
  await c.join({ roomId, userId: newUserId('c') });
});

test('PIN: security.pin_secret peppers the stored hash; the same secret after a restart verifies it, none refuses it', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-e2e-pepper-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const set = { 'server.drain_timeout': '5s', 'rooms.host_grace': '60s' };
  const env = { TANDEM_SECURITY_PIN_SECRET: 'a-long-random-secret' };
  const roomId = newRoomId('pepper');
  const one = await startServer(t, { dataDir, set, env });
  const [host] = await party(one, 1, { roomId, pin: '2468', prefix: 'pp' });
  assert.equal((await one.terminate()).code, 0);
  await host.waitClose();
  const [row] = sqliteQuery(one.dbPath, `SELECT snapshot FROM rooms WHERE id = ${sqlString(roomId)}`);
  const pin = JSON.parse(row.snapshot).pin;
  assert.equal(pin.peppered, true, `stored PIN ${JSON.stringify(pin)}`);
  assert.match(pin.hash, /^[0-9a-f]{64}$/);
  assert.ok(!row.snapshot.includes('2468'), 'the PIN itself is never stored');

  await sleep(200);
  const two = await startServer(t, { dataDir, set, env });
  const guest = await Client.connect(two);
  guest.sendJoin({ roomId, userId: newUserId('g'), pin: '1111' });
  assert.equal((await guest.next('ERROR')).code, 'bad_pin');
  await guest.join({ roomId, userId: newUserId('g'), pin: '2468' });
  assert.equal((await two.terminate()).code, 0);
  await guest.waitClose();

  await sleep(200);
  const three = await startServer(t, { dataDir, set });  // the secret is gone: no PIN matches
  const late = await Client.connect(three);
  late.sendJoin({ roomId, userId: newUserId('l'), pin: '2468' });
  assert.equal((await late.next('ERROR')).code, 'bad_pin');
});
