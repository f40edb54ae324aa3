// docs/protocol.md §1, §2, §3, §10: abuse and malformed input. Every test keeps a bystander room of two
// clients on the same server, which must keep working after each abuse.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, bystanders, party } from './lib/client.mjs';
import { get, metricValue, metrics, rawConnect, rawRequest } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';
import { eventually, roomId as newRoomId, sleep, userId as newUserId } from './lib/util.mjs';

// A JSON text of exactly `bytes` bytes that the server relays (generic relay type PAD).
function frameOfSize(bytes) {
  const head = '{"type":"PAD","p":"';
  const tail = '"}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
}

async function joined(srv, options = {}) {
  const c = await Client.connect(srv, options);
  await c.join({ roomId: options.roomId ?? newRoomId('abuse'), userId: newUserId('abuser') });
  return c;
}

test('frame size: exactly limits.max_frame_bytes is accepted (also fragmented); one byte more closes 1009', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  const limit = 65536; // the default
  const c = await joined(srv);
  c.sendRaw(frameOfSize(limit));
  const echo = await c.next('PAD', 5000);
  assert.equal(echo.p.length, limit - 21);
  // The same size in three fragments.
  const whole = frameOfSize(limit);
  c.ws.send(whole.slice(0, 1000), { fin: false });
  c.ws.send(whole.slice(1000, 40000), { fin: false });
  c.ws.send(whole.slice(40000), { fin: true });
  await c.next('PAD', 5000);
  await by.check('after max-size frames');
  c.sendRaw(frameOfSize(limit + 1));
  assert.equal((await c.waitClose(5000)).code, 1009);
  await by.check('after the oversized frame');
  // Oversized only after reassembly of fragments.
  const d = await joined(srv);
  const big = frameOfSize(limit + 1);
  d.ws.send(big.slice(0, 30000), { fin: false });
  d.ws.send(big.slice(30000), { fin: true });
  assert.equal((await d.waitClose(5000)).code, 1009);
  // Before JOIN too.
  const e = await Client.connect(srv);
  e.sendRaw(frameOfSize(limit + 1));
  assert.equal((await e.waitClose(5000)).code, 1009);
  await by.check('after the fragmented oversized frame');
});

test('frame size: a configured limits.max_frame_bytes is honoured at the byte', async (t) => {
  const srv = await startServer(t, { set: { 'limits.max_frame_bytes': 4096 } });
  const by = await bystanders(srv);
  const c = await joined(srv);
  c.sendRaw(frameOfSize(4096));
  await c.next('PAD');
  // Multi-byte characters count as bytes: 4096 bytes with a 3-byte character still fit.
  const s = frameOfSize(4096).replace('xxx', '\u2603');
  assert.equal(Buffer.byteLength(s), 4096);
  c.sendRaw(s);
  await c.next('PAD');
  c.sendRaw(frameOfSize(4097));
  assert.equal((await c.waitClose(3000)).code, 1009);
  await by.check();
});

test('a binary frame closes 1003', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  const c = await joined(srv);
  c.sendRaw(Buffer.from(JSON.stringify({ type: 'PING' })), { binary: true });
  assert.equal((await c.waitClose(3000)).code, 1003);
  const d = await Client.connect(srv);
  d.sendRaw(Buffer.from([0, 1, 2, 3]), { binary: true });
  assert.equal((await d.waitClose(3000)).code, 1003);
  await by.check();
});

test('a text frame that is not a JSON object: ERROR bad_json "Processing error", the socket stays open', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  const c = await joined(srv);
  for (const text of ['{not json', '', '[1,2,3]', '[]', '42', '"PING"', 'null', 'true', '{"type":"PING"', '\u00ff\u00fe', '{"type":"PING"} x']) {
    c.sendRaw(text);
    const err = await c.expectError('bad_json');
    assert.equal(err.message, 'Processing error', `for ${JSON.stringify(text)}`);
  }
  c.send({ type: 'PING', timestamp: 1 });
  await c.next('PONG');
  assert.ok(c.isOpen);
  await by.check();
});

test('a JSON object without a string type is bad_field', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  const c = await joined(srv);
  for (const frame of [{}, { type: 5 }, { type: null }, { type: ['PING'] }, { type: { x: 1 } }, { userId: 'u', roomId: 'r' }]) {
    c.send(frame);
    await c.expectError('bad_field');
  }
  assert.ok(c.isOpen);
  await by.check();
});

test('wrong field types get bad_field and nothing is stored or relayed; bad POSITION_UPDATE is dropped silently', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  const roomId = newRoomId();
  const [host, guest] = await party(srv, 2, { roomId });
  const bad = [
    { type: 'SEEK', currentTime: 'abc', isPlaying: false },
    { type: 'SEEK', currentTime: 'NaN', isPlaying: false },
    { type: 'SEEK', currentTime: 'Infinity', isPlaying: true },
    { type: 'SEEK', currentTime: '12', isPlaying: true },
    { type: 'SEEK', currentTime: -1, isPlaying: false },
    { type: 'SEEK', currentTime: -0.001, isPlaying: false },
    { type: 'SEEK', isPlaying: false },
    { type: 'SEEK', currentTime: null, isPlaying: false },
    { type: 'SEEK', currentTime: { v: 1 }, isPlaying: false },
    { type: 'SEEK', currentTime: [5], isPlaying: false },
    { type: 'SEEK', currentTime: 5, isPlaying: 'yes' },
    { type: 'SEEK', currentTime: 5, isPlaying: 1 },
    { type: 'SEEK', currentTime: 5, isPlaying: false, eventTimestamp: 'now' },
    { type: 'TOGGLE_GUEST_CONTROL', enabled: 'yes' },
    { type: 'TOGGLE_GUEST_CONTROL', enabled: 1 },
    { type: 'TOGGLE_GUEST_CONTROL' },
    { type: 'TRANSFER_HOST', targetUserId: 5 },
    { type: 'TRANSFER_HOST' },
    { type: 'URL_CHANGE', url: 5 },
    { type: 'URL_CHANGE' },
    { type: 'URL_CHANGE', url: 'https://www.netflix.com/watch/1', currentTime: 'x' },
    { type: 'PLAY_PAUSE', control: 'stop' },
    { type: 'PLAY_PAUSE' },
    { type: 'PLAY_PAUSE', control: 'play', currentTime: '1' },
    { type: 'PLAY_PAUSE', control: 'play', currentTime: -5 },
    { type: 'PLAY_PAUSE', control: 'play', eventTimestamp: {} },
    { type: 'HOST_HEARTBEAT', currentTime: 'x', isPlaying: true },
    { type: 'HOST_HEARTBEAT', isPlaying: true },
    { type: 'HOST_HEARTBEAT', currentTime: 3, isPlaying: 'true' },
    { type: 'OFFER', to: 5, offer: { sdp: 'x' } },
    { type: 'CUSTOM_THING', to: { userId: 'x' } },
    { type: 'CUSTOM_THING', to: 7 },
  ];
  for (const frame of bad) {
    host.send(frame);
    const err = await host.next('ERROR');
    assert.equal(err.code, 'bad_field', `${JSON.stringify(frame)} answered ${JSON.stringify(err)}`);
  }
  // Non-finite numbers written as JSON number literals.
  for (const text of ['{"type":"SEEK","currentTime":1e999,"isPlaying":false}', '{"type":"HOST_HEARTBEAT","currentTime":-1e999,"isPlaying":false}',
    '{"type":"PLAY_PAUSE","control":"play","currentTime":1e400}']) {
    host.sendRaw(text);
    const err = await host.next('ERROR');
    assert.ok(err.code === 'bad_field' || err.code === 'bad_json', `${text} answered ${JSON.stringify(err)}`);
  }
  host.send({ type: 'POSITION_UPDATE', currentTime: 'abc', isPlaying: true });
  host.send({ type: 'POSITION_UPDATE', currentTime: -3, isPlaying: true });
  host.send({ type: 'POSITION_UPDATE', currentTime: 3, isPlaying: 'no' });
  await host.none('ERROR', 400);
  await guest.none(() => true, 100);
  host.send({ type: 'REQUEST_SYNC' });
  const sync = await host.next('SYNC_RESPONSE');
  assert.equal(sync.currentTime, 0);
  assert.equal(sync.isPlaying, false);
  assert.equal(sync.url, '');
  const late = await Client.connect(srv);
  const state = await late.join({ roomId, userId: newUserId() });
  assert.equal(state.guestControlEnabled, false);
  assert.equal(state.hostUserId, host.userId);
  // READY targetTime and REQUEST_SYNC respectAutoPlay are never validated.
  host.send({ type: 'READY', targetTime: 'whatever' });
  host.send({ type: 'REQUEST_SYNC', respectAutoPlay: 'maybe' });
  await host.next('SYNC_RESPONSE');
  await host.none('ERROR', 200);
  for (const m of [host, guest, late]) m.assertSeqOrder();
  await by.check();
});

test('reserved types get reserved_type and are not relayed (also with `to`); SYNC_RESPONSE only with `to`', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  const roomId = newRoomId();
  const [a, b] = await party(srv, 2, { roomId });
  const reserved = ['ROOM_STATE', 'USER_JOINED', 'USER_LEFT', 'HOST_CHANGED', 'GUEST_CONTROL', 'USERNAME_UPDATED', 'PONG', 'ERROR', 'SEEK_PAUSE'];
  for (const type of reserved) {
    a.send({ type, userId: b.userId, hostUserId: b.userId, enabled: true, username: 'x', roomId, code: 'replaced', message: 'm', currentTime: 1, users: [] });
    const err = await a.next('ERROR');
    assert.equal(err.code, 'reserved_type', `${type} answered ${JSON.stringify(err)}`);
    a.send({ type, to: b.userId });
    const err2 = await a.next('ERROR');
    assert.equal(err2.code, 'reserved_type', `${type} with to answered ${JSON.stringify(err2)}`);
  }
  a.send({ type: 'SYNC_RESPONSE', fromUserId: 'server', currentTime: 999, isPlaying: true, url: 'https://evil.example/' });
  assert.equal((await a.next('ERROR')).code, 'reserved_type');
  await b.none(() => true, 400);
  // Reserved from a guest: reserved_type wins over not_allowed; before JOIN not_joined wins.
  b.send({ type: 'HOST_CHANGED', hostUserId: b.userId });
  assert.equal((await b.next('ERROR')).code, 'reserved_type');
  const fresh = await Client.connect(srv);
  fresh.send({ type: 'USER_JOINED', userId: 'x' });
  assert.equal((await fresh.next('ERROR')).code, 'not_joined');
  a.send({ type: 'REQUEST_SYNC' });
  assert.equal((await a.next('SYNC_RESPONSE')).url, '');
  for (const m of [a, b]) m.assertSeqOrder();
  await by.check();
});

test('before JOIN only PING and JOIN are accepted: everything else gets not_joined', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  const c = await Client.connect(srv);
  c.send({ type: 'PING', timestamp: 123 });
  const pong = await c.next('PONG');
  assert.equal(typeof pong.timestamp, 'number');
  assert.equal(pong.seq, undefined);
  for (const type of ['PLAY_PAUSE', 'REQUEST_SYNC', 'LEAVE', 'SEEK', 'READY', 'UPDATE_USERNAME', 'OFFER', 'CUSTOM', 'TOGGLE_GUEST_CONTROL', 'POSITION_UPDATE']) {
    c.send({ type, control: 'play', currentTime: 1, isPlaying: true, to: by.clients[0].userId, enabled: true, username: 'x' });
    const err = await c.next('ERROR');
    assert.equal(err.code, 'not_joined', `${type} answered ${JSON.stringify(err)}`);
  }
  assert.ok(c.isOpen);
  for (const b of by.clients) await b.none((f) => f.type === 'OFFER' || f.type === 'CUSTOM', 200);
  await by.check();
});

test('JOIN validation: missing_fields, invalid_room_id, invalid_user_id (1–64 code points, no control characters); nothing is bound', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  const c = await Client.connect(srv);
  const cases = [
    [{ userId: 'u1' }, 'missing_fields'],
    [{ roomId: 'r1' }, 'missing_fields'],
    [{ roomId: '', userId: 'u1' }, 'missing_fields'],
    [{ roomId: 'r1', userId: null }, 'missing_fields'],
    [{ roomId: null, userId: 'u1' }, 'missing_fields'],
    [{ roomId: 'r'.repeat(65), userId: 'u1' }, 'invalid_room_id'],
    [{ roomId: 5, userId: 'u1' }, 'invalid_room_id'],
    [{ roomId: ['r'], userId: 'u1' }, 'invalid_room_id'],
    [{ roomId: 'a\u0001b', userId: 'u1' }, 'invalid_room_id'],
    [{ roomId: 'a\nb', userId: 'u1' }, 'invalid_room_id'],
    [{ roomId: 'a\u007fb', userId: 'u1' }, 'invalid_room_id'],
    [{ roomId: 'a\u0085b', userId: 'u1' }, 'invalid_room_id'],
    [{ roomId: 'r1', userId: 'u'.repeat(65) }, 'invalid_user_id'],
    [{ roomId: 'r1', userId: { id: 1 } }, 'invalid_user_id'],
    [{ roomId: 'r1', userId: 'a\tb' }, 'invalid_user_id'],
    [{ roomId: 'r1', userId: 'u1', username: 7 }, 'invalid_username'],
    [{ roomId: 'r1', userId: 'u1', username: ['x'] }, 'invalid_username'],
  ];
  for (const [fields, code] of cases) {
    c.send({ type: 'JOIN', timestamp: Date.now(), ...fields });
    const err = await c.next('ERROR');
    assert.equal(err.code, code, `${JSON.stringify(fields)} answered ${JSON.stringify(err)}`);
    if (code === 'missing_fields') assert.equal(err.message, 'Missing roomId or userId');
  }
  c.send({ type: 'PLAY_PAUSE', control: 'play' });
  assert.equal((await c.next('ERROR')).code, 'not_joined');
  // 64 code points are fine even when they take more UTF-16 units or bytes.
  const state = await c.join({ roomId: '\u{1F600}'.repeat(64), userId: '\u2603'.repeat(64), username: 'x' });
  assert.equal(state.roomId, '\u{1F600}'.repeat(64));
  await by.check();
});

test('10,000 JOINs with distinct room ids from one connection: the server stays up, the socket ends in the last room, emptied rooms are archived', async (t) => {
  const srv = await startServer(t, {
    set: { 'limits.msgs_per_sec': 100000, 'limits.msgs_burst': 100000, 'limits.rooms_per_ip_minute': 100000 },
  });
  const by = await bystanders(srv);
  const c = await Client.connect(srv, { name: 'hopper' });
  const uid = newUserId('hop');
  const prefix = newRoomId('hop');
  const total = 10000;
  const batch = 1000;
  const started = Date.now();
  for (let start = 0; start < total; start += batch) {
    for (let i = start; i < start + batch; i++) c.send({ type: 'JOIN', userId: uid, roomId: `${prefix}_${i}`, username: 'Hopper', pin: null });
    await c.next({ type: 'ROOM_STATE', roomId: `${prefix}_${start + batch - 1}` }, 60000);
    c.take('ROOM_STATE');
    if (start === 5000) await by.check('halfway through the JOIN storm');
  }
  t.diagnostic(`10,000 JOINs took ${Date.now() - started} ms`);
  const states = c.log.filter((f) => f.type === 'ROOM_STATE');
  assert.equal(states.length, total);
  assert.equal(c.log.filter((f) => f.type === 'ERROR').length, 0, `errors: ${JSON.stringify(c.log.find((f) => f.type === 'ERROR'))}`);
  assert.ok(states.every((s) => s.hostUserId === uid && s.users.length === 1));
  await c.none('USER_LEFT', 10);
  const m = await metrics(srv);
  const rooms = metricValue(m, 'tandem_rooms');
  assert.ok(rooms <= 3, `tandem_rooms = ${rooms}: the rooms emptied by switching were not archived`);
  // The connection is a member of the last room.
  const last = `${prefix}_${total - 1}`;
  const other = await Client.connect(srv);
  const st = await other.join({ roomId: last, userId: newUserId('o') });
  assert.deepEqual(st.users.map((u) => u.userId), [uid, other.userId]);
  assert.equal((await c.next('USER_JOINED')).userId, other.userId);
  const presence = (await get(srv, `/api/rooms/${encodeURIComponent(`${prefix}_1234`)}/presence`)).json();
  assert.equal(presence.count, 0);
  assert.equal((await get(srv, '/health')).status, 200);
  await by.check('after the JOIN storm');
});

test('room creation is bounded: limits.rooms_per_ip_minute per address (too_many_rooms), limits.max_rooms per node (server_busy); existing rooms stay open', async (t) => {
  const srv = await startServer(t, { set: { 'limits.rooms_per_ip_minute': 3, 'limits.max_rooms': 5 } });
  const prefix = newRoomId('bound');
  const connect = (localAddress) => Client.connect(srv, { localAddress });
  const refused = async (c, roomId, code) => {
    c.sendJoin({ roomId, userId: newUserId() });
    const error = await c.next('ERROR');
    assert.equal(error.code, code, `JOIN ${roomId}`);
  };
  const first = [];
  for (let i = 0; i < 3; i++) {
    const c = await connect('127.0.0.1');
    await c.join({ roomId: `${prefix}_a${i}`, userId: newUserId() });
    first.push(c);
  }
  const late = await connect('127.0.0.1');
  await refused(late, `${prefix}_a3`, 'too_many_rooms');
  await late.join({ roomId: `${prefix}_a0`, userId: newUserId() });  // an existing room is no creation
  assert.equal((await get(srv, `/api/rooms/${encodeURIComponent(`${prefix}_a3`)}/presence`)).json().count, 0, 'the refused room does not exist');
  // Another address creates until the node holds limits.max_rooms.
  const b = [await connect('127.0.0.2'), await connect('127.0.0.2')];
  await b[0].join({ roomId: `${prefix}_b0`, userId: newUserId() });
  await b[1].join({ roomId: `${prefix}_b1`, userId: newUserId() });
  const c = await connect('127.0.0.3');
  await refused(c, `${prefix}_c0`, 'server_busy');
  // An ended room makes room for a new one.
  b[1].send({ type: 'LEAVE' });
  await eventually(async () => metricValue(await metrics(srv), 'tandem_rooms') === 4, { message: 'the left room archived' });
  await c.join({ roomId: `${prefix}_c0`, userId: newUserId() });
  const m = await metrics(srv);
  assert.equal(metricValue(m, 'tandem_rooms'), 5);
  assert.equal(metricValue(m, 'tandem_max_rooms'), 5);
  assert.equal(metricValue(m, 'tandem_errors_total', { code: 'too_many_rooms' }), 1);
  assert.equal(metricValue(m, 'tandem_errors_total', { code: 'server_busy' }), 1);
});

test('PIN guessing from one address over limits.pin_attempts_per_ip_minute: too_many_attempts + close 1008 for every JOIN to a PIN room', async (t) => {
  const srv = await startServer(t, { set: { 'limits.pin_attempts': 3, 'limits.pin_attempts_per_ip_minute': 5 } });
  const by = await bystanders(srv);
  const roomId = newRoomId('vault');
  const host = await Client.connect(srv, { localAddress: '127.0.0.1' });
  await host.join({ roomId, userId: newUserId('h'), pin: '424242' });
  const attacker = { localAddress: '127.0.0.3' };
  let attempts = 0;
  const guess = async (conn) => {
    attempts++;
    conn.sendJoin({ roomId, userId: newUserId('e'), pin: String(100000 + attempts) });
    return conn.next('ERROR');
  };
  for (let k = 0; k < 2; k++) {
    const conn = await Client.connect(srv, attacker);
    assert.equal((await guess(conn)).code, 'bad_pin');
    assert.equal((await guess(conn)).code, 'bad_pin');
    assert.ok(conn.isOpen, 'two wrong PINs (pin_attempts=3) must not close');
    conn.terminate();
  }
  const third = await Client.connect(srv, attacker);
  const fifth = await guess(third); // the 5th wrong attempt from this address
  assert.ok(fifth.code === 'bad_pin' || fifth.code === 'too_many_attempts', `5th attempt: ${JSON.stringify(fifth)}`);
  await sleep(200);
  // From now on every JOIN to a PIN-protected room from this address is refused unchecked: the
  // right PIN, a wrong one, none.
  for (const pin of ['424242', '000000', null]) {
    const blocked = await Client.connect(srv, attacker);
    blocked.sendJoin({ roomId, userId: newUserId('e'), pin });
    const err = await blocked.next('ERROR');
    assert.equal(err.code, 'too_many_attempts', `PIN ${pin} from a blocked address answered ${JSON.stringify(err)}`);
    assert.equal((await blocked.waitClose(2000)).code, 1008);
  }
  await host.none('USER_JOINED', 100);
  // Other addresses are not affected; the blocked address may still join rooms without a PIN.
  const friend = await Client.connect(srv, { localAddress: '127.0.0.4' });
  await friend.join({ roomId, userId: newUserId('f'), pin: '424242' });
  const open = await Client.connect(srv, attacker);
  await open.join({ roomId: newRoomId('open'), userId: newUserId('o') });
  await by.check();
});

test('JOINs pipelined behind the last allowed wrong PIN of a connection are dropped, not checked: limits.pin_attempts holds per connection', async (t) => {
  const srv = await startServer(t, { set: { 'limits.pin_attempts': 3, 'limits.pin_attempts_per_ip_minute': 1000 } });
  const roomId = newRoomId('vault');
  const host = await Client.connect(srv);
  await host.join({ roomId, userId: newUserId('h'), pin: '424242' });
  const before = metricValue(await metrics(srv), 'tandem_errors_total', { code: 'bad_pin' }) || 0;
  const guesser = await Client.connect(srv, { localAddress: '127.0.0.5' });
  for (let i = 0; i < 30; i++) guesser.sendJoin({ roomId, userId: newUserId('g'), pin: String(100000 + i) });
  assert.equal((await guesser.waitClose(5000)).code, 1008);
  // The JOINs the node had read when it closed are dropped (those it had not read are never read).
  await eventually(async () => metricValue(await metrics(srv), 'tandem_closed_joins_dropped_total') > 0,
    { message: 'the JOINs behind the third wrong PIN dropped' });
  await sleep(300);
  const m = await metrics(srv);
  assert.equal(metricValue(m, 'tandem_errors_total', { code: 'bad_pin' }) - before, 3);
  assert.ok(metricValue(m, 'tandem_closed_joins_dropped_total') <= 27);
  assert.equal(guesser.log.filter((f) => f.type === 'ERROR').length, 3);
  await host.none('USER_JOINED', 100);
});

test('PIN guesses sent at once from one IPv6 /64 to several rooms: exactly limits.pin_attempts_per_ip_minute PINs are checked', async (t) => {
  const srv = await startServer(t, {
    set: { 'limits.pin_attempts_per_ip_minute': 4 },
    env: { TANDEM_HTTP_TRUSTED_PROXIES: '127.0.0.0/8' },
  });
  const rooms = [newRoomId('v1'), newRoomId('v2'), newRoomId('v3')];
  for (const roomId of rooms) {
    const host = await Client.connect(srv);
    await host.join({ roomId, userId: newUserId('h'), pin: '424242' });
  }
  // Twelve addresses of one /64 (one subscriber), each connection guessing once, all at once.
  const guessers = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    Client.connect(srv, { headers: { 'X-Forwarded-For': `2001:db8:5::${i + 1}` } })));
  guessers.forEach((c, i) => c.sendJoin({ roomId: rooms[i % rooms.length], userId: newUserId('g'), pin: String(100000 + i) }));
  const codes = await Promise.all(guessers.map(async (c) => (await c.next('ERROR')).code));
  assert.equal(codes.filter((c) => c === 'bad_pin').length, 4, `codes: ${codes.join(' ')}`);
  assert.equal(codes.filter((c) => c === 'too_many_attempts').length, 8, `codes: ${codes.join(' ')}`);
  // Another /64 is not affected, and its right PIN does not count.
  for (let i = 0; i < 5; i++) {
    const friend = await Client.connect(srv, { headers: { 'X-Forwarded-For': `2001:db8:6::${i + 1}` } });
    await friend.join({ roomId: rooms[0], userId: newUserId('f'), pin: '424242' });
  }
});

test('message flood: 2,000 frames at once get at most msgs_burst + msgs_per_sec·t through, and rate_limited at most once per second', async (t) => {
  const srv = await startServer(t, { set: { 'limits.msgs_per_sec': 50, 'limits.msgs_burst': 200 } });
  const by = await bystanders(srv);
  const c = await joined(srv, { name: 'flooder' });
  const isLimited = (f) => f.type === 'ERROR' && f.code === 'rate_limited';
  const t0 = Date.now();
  // A generic relay echoes every admitted frame to the sender exactly once: count the echoes.
  for (let i = 0; i < 2000; i++) c.send({ type: 'FLOOD', i });
  await c.next(isLimited, 3000);
  await sleep(500);
  const floodSeconds = (Date.now() - t0) / 1000;
  const echoes = c.log.filter((f) => f.type === 'FLOOD').length;
  // The JOIN took one token; refill 50/s during the flood.
  assert.ok(echoes >= 150 && echoes <= 200 + 50 * floodSeconds + 5,
    `${echoes} of 2000 back-to-back frames relayed in ${floodSeconds}s with msgs_burst 200, msgs_per_sec 50 (at most ${Math.floor(200 + 50 * floodSeconds)} expected)`);
  assert.ok(c.log.filter(isLimited).length <= Math.ceil(floodSeconds) + 1, 'more than one rate_limited per second');
  assert.equal(c.log.filter((f) => f.type === 'ERROR' && !isLimited(f)).length, 0);
  assert.ok(c.isOpen);
  c.assertSeqOrder();
  await by.check('after the flood');
});

test('message flood: the bucket counts frames before JOIN too (PING and JOIN included)', async (t) => {
  const srv = await startServer(t, { set: { 'limits.msgs_per_sec': 50, 'limits.msgs_burst': 200 } });
  const by = await bystanders(srv);
  const c = await Client.connect(srv, { name: 'unbound flooder' });
  const t0 = Date.now();
  // Every other frame a JOIN without userId: each one admitted is answered missing_fields.
  for (let i = 0; i < 2000; i++) {
    c.send(i % 2 ? { type: 'JOIN', roomId: 'flood' } : { type: 'PING', timestamp: i });
  }
  await c.next((f) => f.type === 'ERROR' && f.code === 'rate_limited', 3000);
  await sleep(500);
  const floodSeconds = (Date.now() - t0) / 1000;
  const pongs = c.log.filter((f) => f.type === 'PONG').length;
  const joins = c.log.filter((f) => f.type === 'ERROR' && f.code === 'missing_fields').length;
  const admitted = pongs + joins;
  assert.ok(admitted >= 150 && admitted <= 200 + 50 * floodSeconds + 5,
    `${pongs} PONGs and ${joins} JOIN answers in ${floodSeconds}s (msgs_burst 200, msgs_per_sec 50)`);
  assert.ok(pongs > 0 && joins > 0, 'both kinds of frame were admitted and counted');
  await by.check();
});

test('message flood: sustained abuse (bucket empty for 10 s) closes 1008; rate_limited ERRORs at least 1 s apart', async (t) => {
  const srv = await startServer(t, { set: { 'limits.msgs_per_sec': 50, 'limits.msgs_burst': 200 } });
  const by = await bystanders(srv);
  const c = await joined(srv, { name: 'flooder' });
  const isLimited = (f) => f.type === 'ERROR' && f.code === 'rate_limited';
  const t0 = Date.now();
  for (let i = 0; i < 400; i++) c.send({ type: 'PING', timestamp: i });
  // 100 frames/s against a refill of 50/s keeps the bucket empty.
  let closed = null;
  c.closed.then((info) => { closed = info; });
  let n = 0;
  let checked = false;
  while (!closed && Date.now() < t0 + 16000) {
    for (let i = 0; i < 10 && c.isOpen; i++) c.send({ type: 'PING', timestamp: n++ });
    await sleep(100);
    if (!checked && Date.now() > t0 + 3000) {
      checked = true;
      await by.check('during the sustained flood');
    }
  }
  assert.ok(closed, 'the flooder was not closed within 16 s of sustained abuse');
  assert.equal(closed.code, 1008);
  const limitedAt = c.log.filter(isLimited).map((f) => f._at);
  assert.ok(limitedAt.length > 0, 'no rate_limited ERROR');
  const after = (closed.at - limitedAt[0]) / 1000;
  assert.ok(after >= 8.5 && after <= 12.5, `closed ${after.toFixed(1)} s after the bucket ran empty, expected ~10 s`);
  for (let i = 1; i < limitedAt.length; i++) {
    assert.ok(limitedAt[i] - limitedAt[i - 1] >= 900, `two rate_limited ERRORs ${limitedAt[i] - limitedAt[i - 1]} ms apart`);
  }
  assert.ok(limitedAt.length >= 7, `only ${limitedAt.length} rate_limited ERRORs during ~10 s of abuse`);
  await by.check('after the flooder was closed');
});

// The sender relays 8 KB BULK frames to its room in batches of 100 (each batch echoed back to
// it) until `done()` holds, 8,000 frames were sent or 30 s passed.
async function bulkUntil(host, done, { pauseAfter = Infinity } = {}) {
  const payload = 'y'.repeat(8000);
  let sent = 0;
  let detected = false;
  const deadline = Date.now() + 30000;
  while (!detected && Date.now() < deadline && sent < 8000) {
    for (let i = 0; i < 100; i++) host.send({ type: 'BULK', i: sent++, payload });
    await host.next({ type: 'BULK', i: sent - 1 }, 10000);
    host.take('BULK');
    detected = await done();
    if (!detected && sent >= pauseAfter) await new Promise((r) => setTimeout(r, 200));
  }
  return { sent, detected };
}

test('one member cannot get the others dropped: relayed bytes per sender are bounded (limits.relay_bytes_per_sec); a reader that pauses stays under its send-queue bound', async (t) => {
  // Defaults: 64 KiB frames, 50 frames/s with a burst of 200, 1 MiB send queue, 64 KiB/s of relays.
  const srv = await startServer(t);
  const [sender, reader, other] = await party(srv, 3, { roomId: newRoomId('relay') });
  reader.ws._socket.pause();
  const payload = 'z'.repeat(60000);
  // 200 frames of 60 KB within the message burst: 12 MB for every member's queue without the bound.
  for (let i = 0; i < 200; i++) sender.send({ type: 'BULK', i, payload });
  assert.equal((await sender.next('ERROR', 10000)).code, 'rate_limited');
  sender.send({ type: 'PLAY_PAUSE', control: 'play' });  // in room order after every relayed BULK
  await other.next('PLAY_PAUSE', 10000);
  await sleep(500);
  reader.ws._socket.resume();
  await reader.next('PLAY_PAUSE', 10000);
  const relayed = other.log.filter((f) => f.type === 'BULK').length;
  assert.ok(relayed >= 1 && relayed <= 8, `${relayed} BULK frames relayed: 4 s of 64 KiB/s is about 4 of 60 KB`);
  assert.equal(reader.log.filter((f) => f.type === 'BULK').length, relayed, 'the paused reader got every relayed frame');
  assert.ok(reader.isOpen, 'the reader was dropped');
  const m = await metrics(srv);
  assert.equal(metricValue(m, 'tandem_relay_limited_frames_total'), 200 - relayed);
  assert.equal(metricValue(m, 'tandem_slow_consumer_disconnects_total'), 0);
  sender.take('ERROR');  // rate_limited at most once a second
});

test('slow reader: a client that stops reading is closed once it is limits.send_queue_bytes behind, and leaves the room; bystanders unaffected', async (t) => {
  const srv = await startServer(t, { set: { 'limits.send_queue_bytes': 65536, 'limits.msgs_per_sec': 100000, 'limits.msgs_burst': 100000, 'limits.relay_bytes_per_sec': 67108864 } });
  const by = await bystanders(srv);
  const roomId = newRoomId('slow');
  const [host, slow] = await party(srv, 2, { roomId, prefix: 'slowroom' });
  const slowCount = async () => metricValue(await metrics(srv), 'tandem_slow_consumer_disconnects_total') ?? 0;
  const before = await slowCount();
  slow.ws._socket.pause(); // stops reading: the kernel buffers fill, then the server's send queue
  const { sent, detected } = await bulkUntil(host,
    async () => (await slowCount()) > before || host.queue.some((f) => f.type === 'USER_LEFT'));
  t.diagnostic(`slow reader: dropped after ${sent} frames of 8 KB`);
  assert.ok(detected, `the slow reader was not disconnected after ${sent} frames of 8 KB (${(sent * 8) / 1024} MB)`);
  assert.equal(await eventually(async () => ((await slowCount()) > before ? slowCount() : false),
    { message: 'tandem_slow_consumer_disconnects_total to increment' }), before + 1);
  // Closed means gone: the room hears USER_LEFT at once and the connection is no longer counted.
  const left = await host.next({ type: 'USER_LEFT', userId: slow.userId }, 3000);
  assert.ok(left);
  await eventually(async () => metricValue(await metrics(srv), 'tandem_connections') === 3,
    { message: 'tandem_connections to drop to 3 (host + 2 bystanders)' });
  assert.equal((await get(srv, `/api/rooms/${roomId}/presence`)).json().count, 1);
  assert.ok(host.isOpen, 'the sender must not be affected');
  slow.ws._socket.resume();
  const info = await slow.waitClose(10000);
  assert.ok([1008, 1013, 1006].includes(info.code), `slow reader closed with ${info.code}`);
  host.send({ type: 'PLAY_PAUSE', control: 'play' });
  await host.next('PLAY_PAUSE');
  await by.check();
});

test('stuck reader: a write that does not complete within limits.write_timeout tears the connection down, under the send-queue bound; the seat is released', async (t) => {
  const srv = await startServer(t, { set: { 'limits.send_queue_bytes': 128 * 1024 * 1024, 'limits.write_timeout': '1s', 'limits.msgs_per_sec': 100000, 'limits.msgs_burst': 100000, 'limits.relay_bytes_per_sec': 67108864 } });
  const by = await bystanders(srv);
  const roomId = newRoomId('stuck');
  const [host, stuck] = await party(srv, 2, { roomId, prefix: 'stuckroom' });
  const counter = async (name) => metricValue(await metrics(srv), name) ?? 0;
  const slowBefore = await counter('tandem_slow_consumer_disconnects_total');
  const timeoutsBefore = await counter('tandem_write_timeouts_total');
  stuck.ws._socket.pause(); // stops reading: the kernel buffers fill and one write stays pending
  // After 2,000 frames (16 MB) the kernel buffers are full: pause between batches so that the
  // sweep finds the pending write.
  const { sent, detected } = await bulkUntil(host,
    async () => (await counter('tandem_write_timeouts_total')) > timeoutsBefore || host.queue.some((f) => f.type === 'USER_LEFT'),
    { pauseAfter: 2000 });
  t.diagnostic(`stuck reader: torn down after ${sent} frames of 8 KB`);
  assert.ok(detected, `the stuck reader was not torn down after ${sent} frames of 8 KB`);
  assert.equal(await eventually(async () => ((await counter('tandem_write_timeouts_total')) > timeoutsBefore ? counter('tandem_write_timeouts_total') : false),
    { message: 'tandem_write_timeouts_total to increment' }), timeoutsBefore + 1);
  assert.equal(await counter('tandem_slow_consumer_disconnects_total'), slowBefore, 'the send-queue bound was not what closed it');
  assert.ok(await host.next({ type: 'USER_LEFT', userId: stuck.userId }, 3000));
  await eventually(async () => metricValue(await metrics(srv), 'tandem_connections') === 3,
    { message: 'tandem_connections to drop to 3 (host + 2 bystanders)' });
  assert.equal((await get(srv, `/api/rooms/${roomId}/presence`)).json().count, 1);
  assert.ok(host.isOpen, 'the sender must not be affected');
  await by.check();
});

test('slow HTTP request (one header byte per second) is closed after http.request_timeout', async (t) => {
  const srv = await startServer(t, { set: { 'http.request_timeout': '2s' } });
  const by = await bystanders(srv);
  const conn = await rawConnect(srv);
  const text = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'z'.repeat(40) + '\r\n\r\n';
  let i = 0;
  const timer = setInterval(() => {
    if (conn.closedAt || i >= text.length) return;
    conn.socket.write(text[i++]);
  }, 1000);
  conn.socket.write(text[i++]);
  const closedAt = await Promise.race([conn.closed, sleep(6000).then(() => null)]);
  clearInterval(timer);
  conn.socket.destroy();
  assert.ok(closedAt, 'the slow request was still open after 6 s');
  const after = closedAt - conn.openedAt;
  assert.ok(after <= 3500, `closed after ${after} ms (request_timeout 2 s)`);
  assert.ok(!/^HTTP\/1\.[01] 200/.test(conn.data), 'the slow request was served');
  await by.check();
});

test('a keep-alive connection polled within http.request_timeout stays open; left idle it is closed after http.keepalive_timeout', async (t) => {
  const srv = await startServer(t, { set: { 'http.request_timeout': '1s', 'http.keepalive_timeout': '2s' } });
  const conn = await rawConnect(srv);
  const answers = () => (conn.data.match(/HTTP\/1\.1 200 /g) || []).length;
  // Eight requests 400 ms apart on one connection: 3.2 s, past both timeouts counted from the first.
  for (let i = 1; i <= 8; i++) {
    conn.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await eventually(() => answers() === i, { message: `answer ${i} on the same connection` });
    assert.equal(conn.closedAt, null, `closed after ${i} answers`);
    await sleep(400);
  }
  // The last answer came ~400 ms ago: the node closes the connection ~1.6 s from now.
  const idleFrom = Date.now();
  const closedAt = await Promise.race([conn.closed, sleep(8000).then(() => null)]);
  conn.socket.destroy();
  assert.ok(closedAt, 'the idle keep-alive connection was still open after 8 s (keepalive_timeout 2 s)');
  const idle = closedAt - idleFrom;
  assert.ok(idle >= 1000, `closed after ${idle} ms idle, before keepalive_timeout`);
  assert.equal(answers(), 8, 'no answer without a request');
});

test('huge headers (> http.max_header_bytes) → 431', async (t) => {
  const srv = await startServer(t, { set: { 'http.max_header_bytes': 4096 } });
  const by = await bystanders(srv);
  const small = await rawRequest(srv, `GET /health HTTP/1.1\r\nHost: x\r\nX-Fill: ${'a'.repeat(2000)}\r\nConnection: close\r\n\r\n`);
  assert.equal(small.status, 200);
  const big = await rawRequest(srv, `GET /health HTTP/1.1\r\nHost: x\r\nX-Fill: ${'a'.repeat(8000)}\r\nConnection: close\r\n\r\n`);
  assert.equal(big.status, 431, `answered ${big.data.slice(0, 100)}`);
  const many = await rawRequest(srv, `GET /health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 600 }, (_, k) => `X-H${k}: v\r\n`).join('')}Connection: close\r\n\r\n`);
  assert.equal(many.status, 431);
  const upgrade = await rawRequest(srv, `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Fill: ${'b'.repeat(8000)}\r\n\r\n`);
  assert.equal(upgrade.status, 431);
  assert.equal((await get(srv, '/health')).status, 200);
  await by.check();
});

test('malformed percent-escapes on every endpoint: 400 (404 where the id cannot exist), never a crash', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  for (const bad of ['%zz', '%', 'abc%4', '%%', '%g0', 'a%0', '%%41', '%4']) {
    for (const [path, allowed] of [[`/api/short-id/${bad}`, [400]], [`/api/rooms/${bad}/presence`, [400]],
      [`/api/room/${bad}`, [400, 404]], [`/room/${bad}`, [400, 404]], [`/room/abcdefgh/${bad}`, [400, 404]]]) {
      const res = await get(srv, path);
      assert.ok(allowed.includes(res.status), `${path} answered ${res.status} ${res.body.slice(0, 80)}`);
      assert.equal(res.headers['access-control-allow-origin'], '*', `${path}: no CORS header on the error`);
    }
    for (const path of [`/health?x=${bad}`, `/status?x=${bad}`, `/metrics?${bad}`, `/${bad}`]) {
      const res = await get(srv, path);
      assert.ok(res.status < 500, `${path} answered ${res.status}`);
    }
  }
  assert.ok([400, 404].includes(await Client.upgradeStatus(srv, { path: '/ws%zz' })));
  assert.equal((await get(srv, '/health')).status, 200);
  await by.check();
});

test('percent-escapes that decode to invalid UTF-8 are not a room id: 400 on /api/short-id and /api/rooms/{id}/presence alike', async (t) => {
  const srv = await startServer(t);
  const by = await bystanders(srv);
  for (const bad of ['%C3%28', '%FF', 'ab%E2%82', '%ED%A0%80']) {
    const short = await get(srv, `/api/short-id/${bad}`);
    assert.equal(short.status, 400, `/api/short-id/${bad} answered ${short.status} ${short.body}`);
    const presence = await get(srv, `/api/rooms/${bad}/presence`);
    assert.equal(presence.status, 400, `/api/rooms/${bad}/presence answered ${presence.status} ${presence.body}`);
  }
  await by.check();
});

test('limits.max_conns_per_ip: the upgrade over the cap is answered 429; other addresses and HTTP unaffected', async (t) => {
  const srv = await startServer(t, { set: { 'limits.max_conns_per_ip': 3 } });
  const by = await bystanders(srv);
  const from = { localAddress: '127.0.0.5' };
  const conns = [];
  for (let i = 0; i < 3; i++) conns.push(await Client.connect(srv, from));
  assert.equal(await Client.upgradeStatus(srv, from), 429);
  assert.equal((await get(srv, '/health', from)).status, 200, 'HTTP does not count toward the WebSocket cap');
  assert.equal(await Client.upgradeStatus(srv, { localAddress: '127.0.0.6' }), null);
  conns[0].close();
  await conns[0].waitClose();
  await eventually(async () => (await Client.upgradeStatus(srv, from)) === null, { message: 'a slot to free up' });
  await by.check();
});

test('http.trusted_proxies: behind a trusted proxy the client is the right-most untrusted X-Forwarded-For address, over several header lines too', async (t) => {
  const srv = await startServer(t, { set: { 'limits.max_conns_per_ip': 1 }, env: { TANDEM_HTTP_TRUSTED_PROXIES: '127.0.0.0/8' } });
  const via = (...lines) => ({ headers: { 'X-Forwarded-For': lines.length === 1 ? lines[0] : lines } });
  const first = await Client.connect(srv, via('203.0.113.9, 198.51.100.7'));
  // 198.51.100.7 holds its one connection: a second line naming it is the same client…
  assert.equal(await Client.upgradeStatus(srv, via('203.0.113.9', '198.51.100.7')), 429);
  // …and a trusted proxy's own hop is skipped, while an earlier untrusted one is not the client.
  assert.equal(await Client.upgradeStatus(srv, via('198.51.100.7', '127.0.0.9')), 429);
  assert.equal(await Client.upgradeStatus(srv, via('198.51.100.7', '203.0.113.9')), null);
  first.close();
  await first.waitClose();
});

test('limits.max_room_members: a JOIN to a full room gets room_full and stays unbound; a seat takeover still works', async (t) => {
  const srv = await startServer(t, { set: { 'limits.max_room_members': 2 } });
  const by = await bystanders(srv);
  const roomId = newRoomId('full');
  const [a, b] = await party(srv, 2, { roomId });
  const c = await Client.connect(srv);
  c.sendJoin({ roomId, userId: newUserId('c') });
  await c.expectError('room_full');
  c.send({ type: 'PLAY_PAUSE', control: 'play' });
  await c.expectError('not_joined');
  await a.none('USER_JOINED', 200);
  const b2 = await Client.connect(srv);
  await b2.join({ roomId, userId: b.userId });
  assert.equal((await b.waitClose()).code, 4001);
  b2.send({ type: 'LEAVE' });
  await a.next('USER_LEFT');
  await c.join({ roomId, userId: c.userId });
  await by.check();
});

test('limits.idle_timeout: a connection that sends nothing (no frame, no pong) is closed 1001; pongs and PINGs keep it alive', async (t) => {
  const srv = await startServer(t, { set: { 'limits.idle_timeout': '2s', 'limits.ping_interval': '500ms' } });
  const by = await bystanders(srv); // bystanders answer pings automatically
  const silent = await Client.connect(srv, { autoPong: false, name: 'silent' });
  await silent.join({ roomId: newRoomId(), userId: newUserId('s') });
  const joinedAt = Date.now();
  const ponger = await Client.connect(srv, { name: 'ponger' });
  let pings = 0;
  ponger.ws.on('ping', () => pings++);
  await ponger.join({ roomId: newRoomId(), userId: newUserId('p') });
  const pinger = await Client.connect(srv, { autoPong: false, name: 'pinger' });
  await pinger.join({ roomId: newRoomId(), userId: newUserId('q') });
  const keep = setInterval(() => pinger.isOpen && pinger.send({ type: 'PING', timestamp: Date.now() }), 500);
  const info = await silent.waitClose(5000);
  const after = info.at - joinedAt;
  assert.equal(info.code, 1001);
  assert.ok(after >= 1500 && after < 4000, `closed after ${after} ms of silence (idle_timeout 2 s)`);
  await sleep(Math.max(0, 4000 - (Date.now() - joinedAt)));
  clearInterval(keep);
  assert.ok(ponger.isOpen, 'a client answering protocol pings was closed');
  assert.ok(pinger.isOpen, 'a client sending PING frames was closed');
  assert.ok(pings >= 3, `only ${pings} protocol pings in 4 s with ping_interval 500ms`);
  await by.check();
});
