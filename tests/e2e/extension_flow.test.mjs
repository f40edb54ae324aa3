// docs/protocol.md §2, §3, §9: the v2.0 extension's flow against one node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, assertSameBroadcasts, party } from './lib/client.mjs';
import { startServer } from './lib/server.mjs';
import { roomId as newRoomId, sleep, userId as newUserId } from './lib/util.mjs';

const FAST = { 'rooms.host_grace': '1s', 'rooms.ready_timeout': '1s' };

function assertNow(ts, what) {
  assert.equal(typeof ts, 'number', `${what}: timestamp is not a number: ${ts}`);
  assert.ok(Math.abs(ts - Date.now()) < 10000, `${what}: timestamp ${ts} is not the server's epoch ms (now ${Date.now()})`);
}

test('JOIN then REQUEST_SYNC without waiting: ROOM_STATE (all fields) then SYNC_RESPONSE', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId('default_room');
  const userId = newUserId();
  const c = await Client.connect(srv);
  // The extension sends JOIN and REQUEST_SYNC back to back.
  c.send({ type: 'JOIN', userId, roomId, username: 'Ann', pin: null, timestamp: Date.now() });
  c.send({ type: 'REQUEST_SYNC', userId, roomId, respectAutoPlay: true });
  const state = await c.next('ROOM_STATE');
  const sync = await c.next('SYNC_RESPONSE');
  assert.ok(c.log.indexOf(state) < c.log.indexOf(sync), 'ROOM_STATE must precede SYNC_RESPONSE (per-connection order)');

  assert.equal(state.roomId, roomId);
  assert.equal(state.url, '');
  assert.equal(state.currentTime, 0);
  assert.equal(state.isPlaying, false);
  assert.equal(state.hostUserId, userId);
  assert.equal(state.guestControlEnabled, false);
  assert.deepEqual(state.users, [{ userId, username: 'Ann' }]);
  assert.equal(typeof state.nodeId, 'string');
  assert.ok(state.nodeId.length > 0, 'nodeId empty');
  // §10: a new room starts at seq 0; the creator's JOIN takes the next seq.
  assert.equal(state.seq, 1, `creator's ROOM_STATE seq: ${state.seq}`);
  assert.match(state.sessionToken, /^[0-9a-fA-F]{32}$/);
  assertNow(state.timestamp, 'ROOM_STATE');

  assert.equal(sync.fromUserId, 'server');
  assert.equal(sync.currentTime, 0);
  assert.equal(sync.isPlaying, false);
  assert.equal(sync.url, '');
  assertNow(sync.timestamp, 'SYNC_RESPONSE');
  assert.equal(sync.seq, undefined, 'SYNC_RESPONSE must not carry seq');

  // A username null joins as "no name".
  const d = await Client.connect(srv);
  const s2 = await d.join({ roomId, userId: newUserId(), username: null });
  assert.deepEqual(s2.users.map((u) => u.username), ['Ann', null]);
  assert.equal(s2.seq, 2);
  assert.equal(s2.hostUserId, userId);
  assert.notEqual(s2.sessionToken, state.sessionToken);
  c.assertSeqOrder();
  d.assertSeqOrder();
});

test('PING gets exactly one PONG, before and after JOIN (the extension pings every 15 s)', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const c = await Client.connect(srv);
  c.send({ type: 'PING', timestamp: Date.now() });
  const p1 = await c.next('PONG');
  assert.equal(typeof p1.timestamp, 'number');
  assert.equal(p1.seq, undefined);
  await c.none('PONG', 300);
  await c.join({ roomId: newRoomId(), userId: newUserId() });
  for (let i = 0; i < 3; i++) c.send({ type: 'PING', timestamp: Date.now(), userId: c.userId });
  for (let i = 0; i < 3; i++) await c.next('PONG');
  await c.none('PONG', 400);
  assert.equal(c.log.filter((f) => f.type === 'PONG').length, 4, 'one PONG per PING');
});

test('second member: USER_JOINED with peerId to the first member only; users in join order', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const a = await Client.connect(srv, { name: 'a' });
  const stateA = await a.join({ roomId, userId: newUserId('a'), username: 'Ann' });
  const b = await Client.connect(srv, { name: 'b' });
  const stateB = await b.join({ roomId, userId: newUserId('b'), username: 'Bob' });
  const joined = await a.next('USER_JOINED');
  assert.equal(joined.userId, b.userId);
  assert.equal(joined.username, 'Bob');
  assert.equal(typeof joined.peerId, 'string');
  assert.ok(joined.peerId.length > 0);
  assertNow(joined.timestamp, 'USER_JOINED');
  assert.equal(joined.seq, stateA.seq + 1);
  assert.equal(stateB.seq, joined.seq, "the joiner's ROOM_STATE carries the seq of its USER_JOINED");
  assert.deepEqual(stateB.users, [{ userId: a.userId, username: 'Ann' }, { userId: b.userId, username: 'Bob' }]);
  assert.equal(stateB.hostUserId, a.userId);
  await b.none('USER_JOINED', 300);

  const c = await Client.connect(srv, { name: 'c' });
  const stateC = await c.join({ roomId, userId: newUserId('c'), username: 'Cy' });
  const ja = await a.next('USER_JOINED');
  const jb = await b.next('USER_JOINED');
  assert.equal(ja.seq, jb.seq);
  assert.equal(ja.peerId, jb.peerId, 'every member sees the same peerId');
  assert.notEqual(ja.peerId, joined.peerId, 'peerId is fresh per connection');
  assert.deepEqual(stateC.users.map((u) => u.userId), [a.userId, b.userId, c.userId]);
  await c.none('USER_JOINED', 200);
  for (const x of [a, b, c]) x.assertSeqOrder();
});

test('WebRTC signaling: OFFER to the newcomer, ANSWER and ICE_CANDIDATE back, from/userId overwritten, nodeId', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [a, b, c] = await party(srv, 3, { roomId });
  const n = await Client.connect(srv, { name: 'newcomer' });
  await n.join({ roomId, userId: newUserId('n'), username: 'New' });
  const ja = await a.next({ type: 'USER_JOINED', userId: n.userId });
  await b.next({ type: 'USER_JOINED', userId: n.userId });
  await c.next({ type: 'USER_JOINED', userId: n.userId });
  // The existing member answers USER_JOINED with an OFFER to the newcomer. A realistic SDP is
  // several KB; the default max frame must fit it.
  const sdp = 'v=0\r\n' + 'a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host\r\n'.repeat(200);
  a.send({ type: 'OFFER', to: n.userId, offer: { type: 'offer', sdp }, userId: 'forged', from: 'forged', roomId, peerId: ja.peerId });
  const offer = await n.next('OFFER');
  assert.equal(offer.from, a.userId);
  assert.equal(offer.userId, a.userId);
  assert.equal(typeof offer.nodeId, 'string');
  assert.deepEqual(offer.offer, { type: 'offer', sdp });
  assert.equal(offer.seq, undefined, 'targeted frames carry no seq');
  n.send({ type: 'ANSWER', to: a.userId, answer: { type: 'answer', sdp: 'v=0\r\n' }, userId: n.userId, roomId });
  const answer = await a.next('ANSWER');
  assert.equal(answer.from, n.userId);
  assert.equal(answer.userId, n.userId);
  assert.equal(typeof answer.nodeId, 'string');
  assert.deepEqual(answer.answer, { type: 'answer', sdp: 'v=0\r\n' });
  const candidate = { candidate: 'candidate:1 1 udp 1 192.0.2.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  n.send({ type: 'ICE_CANDIDATE', to: a.userId, candidate, userId: 'forged' });
  a.send({ type: 'ICE_CANDIDATE', to: n.userId, candidate });
  const ice1 = await a.next('ICE_CANDIDATE');
  assert.equal(ice1.from, n.userId);
  assert.deepEqual(ice1.candidate, candidate);
  const ice2 = await n.next('ICE_CANDIDATE');
  assert.equal(ice2.from, a.userId);
  // Nobody else sees targeted frames, the sender gets no echo, a `to` naming nobody is dropped.
  a.send({ type: 'OFFER', to: 'user_nobody', offer: { type: 'offer', sdp: 'x' } });
  for (const x of [b, c]) await x.none((f) => ['OFFER', 'ANSWER', 'ICE_CANDIDATE'].includes(f.type), 300);
  await a.none('OFFER', 100);
  await a.none('ERROR', 100);
  for (const x of [a, b, c, n]) x.assertSeqOrder();
});

test('PLAY_PAUSE and HOST_HEARTBEAT from the host reach every member incl. the sender, with seq; the 3-s re-send is a second PLAY_PAUSE', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const members = await party(srv, 3, { roomId });
  const [host] = members;
  const et = Date.now() - 1234;
  host.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 12.5, eventTimestamp: et, userId: 'forged', roomId });
  const first = [];
  for (const m of members) first.push(await m.next('PLAY_PAUSE'));
  for (const f of first) {
    assert.equal(f.userId, host.userId);
    assert.equal(f.control, 'play');
    assert.equal(f.currentTime, 12.5);
    assert.equal(f.eventTimestamp, et, 'eventTimestamp is passed through untouched');
    assertNow(f.timestamp, 'PLAY_PAUSE');
    assert.equal(f.seq, first[0].seq);
  }
  // The extension re-sends the same PLAY_PAUSE 3 s later: it is just another broadcast.
  host.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 12.5, eventTimestamp: et, userId: host.userId, roomId });
  for (const m of members) {
    const f = await m.next('PLAY_PAUSE');
    assert.equal(f.seq, first[0].seq + 1);
  }
  // Without currentTime / eventTimestamp: relayed without currentTime.
  host.send({ type: 'PLAY_PAUSE', control: 'pause' });
  for (const m of members) {
    const f = await m.next('PLAY_PAUSE');
    assert.equal(f.control, 'pause');
    assert.equal(f.currentTime, undefined, `PLAY_PAUSE without currentTime relayed with one: ${JSON.stringify(f)}`);
  }
  host.send({ type: 'HOST_HEARTBEAT', currentTime: 30, isPlaying: true, eventTimestamp: et, userId: host.userId, roomId });
  for (const m of members) {
    const f = await m.next('HOST_HEARTBEAT');
    assert.equal(f.userId, host.userId);
    assert.equal(f.currentTime, 30);
    assert.equal(f.isPlaying, true);
    assert.equal(f.eventTimestamp, et);
    assertNow(f.timestamp, 'HOST_HEARTBEAT');
    assert.equal(f.seq, first[0].seq + 3);
  }
  host.send({ type: 'HOST_HEARTBEAT', currentTime: 31, isPlaying: false });
  for (const m of members) {
    const f = await m.next('HOST_HEARTBEAT');
    assert.equal(f.eventTimestamp, null, 'HOST_HEARTBEAT without eventTimestamp relays null');
  }
  // The heartbeat stores the position: isPlaying false at 31.
  members[1].send({ type: 'REQUEST_SYNC' });
  const sync = await members[1].next('SYNC_RESPONSE');
  assert.equal(sync.isPlaying, false);
  assert.equal(sync.currentTime, 31);
  for (const m of members) m.assertSeqOrder();
});

test('POSITION_UPDATE is never broadcast but moves the position REQUEST_SYNC reports (host only, 0 ignored, extrapolated while playing)', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [host, guest] = await party(srv, 2, { roomId });
  host.send({ type: 'POSITION_UPDATE', currentTime: 123.5, isPlaying: false, userId: host.userId, roomId });
  await guest.none(() => true, 300);
  await host.none(() => true, 10);
  guest.send({ type: 'REQUEST_SYNC' });
  let sync = await guest.next('SYNC_RESPONSE');
  assert.equal(sync.currentTime, 123.5);
  assert.equal(sync.isPlaying, false);
  // A guest's POSITION_UPDATE does not move the room.
  guest.send({ type: 'POSITION_UPDATE', currentTime: 999, isPlaying: true });
  // currentTime == 0 is ignored.
  host.send({ type: 'POSITION_UPDATE', currentTime: 0, isPlaying: false });
  host.send({ type: 'REQUEST_SYNC' });
  sync = await host.next('SYNC_RESPONSE');
  assert.equal(sync.currentTime, 123.5);
  assert.equal(sync.isPlaying, false);
  // Playing: the reported position is extrapolated (§5).
  host.send({ type: 'POSITION_UPDATE', currentTime: 10, isPlaying: true });
  await sleep(600);
  host.send({ type: 'REQUEST_SYNC' });
  sync = await host.next('SYNC_RESPONSE');
  assert.equal(sync.isPlaying, true);
  assert.ok(sync.currentTime >= 10.5 && sync.currentTime < 11.5, `extrapolated position ${sync.currentTime}, expected ≈10.6`);
  await guest.none((f) => f.type !== 'SYNC_RESPONSE', 100);
  // A late joiner's ROOM_STATE is extrapolated too.
  const late = await Client.connect(srv);
  const state = await late.join({ roomId, userId: newUserId('late') });
  assert.ok(state.currentTime >= 10.5 && state.currentTime < 12, `ROOM_STATE position ${state.currentTime}`);
  assert.equal(state.isPlaying, true);
  // A pause without currentTime freezes the extrapolated position (§10).
  host.send({ type: 'PLAY_PAUSE', control: 'pause' });
  await host.next('PLAY_PAUSE');
  host.send({ type: 'REQUEST_SYNC' });
  const frozen = (await host.next('SYNC_RESPONSE')).currentTime;
  assert.ok(frozen >= 10.5 && frozen < 12.5, `frozen position ${frozen}`);
  await sleep(300);
  host.send({ type: 'REQUEST_SYNC' });
  const later = await host.next('SYNC_RESPONSE');
  assert.equal(later.isPlaying, false);
  assert.ok(Math.abs(later.currentTime - frozen) < 0.001, `paused position moved: ${frozen} -> ${later.currentTime}`);
});

test('URL_CHANGE: an allowed prefix is stored and broadcast, another URL gets ERROR bad_url', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [host, guest] = await party(srv, 2, { roomId });
  const url = 'https://www.netflix.com/watch/80100172?trackId=1';
  host.send({ type: 'URL_CHANGE', url, currentTime: 5, userId: host.userId, roomId });
  for (const m of [host, guest]) {
    const f = await m.next('URL_CHANGE');
    assert.equal(f.userId, host.userId);
    assert.equal(f.url, url);
    assert.equal(f.currentTime, 5);
    assertNow(f.timestamp, 'URL_CHANGE');
    assert.ok(Number.isInteger(f.seq));
  }
  for (const bad of ['https://evil.example/https://www.netflix.com/', 'javascript:alert(1)', 'http://www.netflix.com/watch/1', 'https://www.netflix.com.evil.example/']) {
    host.send({ type: 'URL_CHANGE', url: bad, currentTime: 1 });
    await host.expectError('bad_url');
  }
  await guest.none('URL_CHANGE', 300);
  guest.send({ type: 'URL_CHANGE', url });
  await guest.expectError('not_allowed');
  // URL_CHANGE without currentTime leaves the position alone and relays without it.
  const url2 = 'https://www.netflix.com/watch/2';
  host.send({ type: 'URL_CHANGE', url: url2 });
  const f = await guest.next('URL_CHANGE');
  assert.equal(f.url, url2);
  assert.equal(f.currentTime, undefined, `URL_CHANGE without currentTime relayed with one: ${JSON.stringify(f)}`);
  guest.send({ type: 'REQUEST_SYNC' });
  const sync = await guest.next('SYNC_RESPONSE');
  assert.equal(sync.url, url2);
  assert.equal(sync.currentTime, 5);
  const late = await Client.connect(srv);
  assert.equal((await late.join({ roomId, userId: newUserId() })).url, url2);
  for (const m of [host, guest, late]) m.assertSeqOrder();
});

test('URL_CHANGE: a URL with control characters or over limits.max_url_bytes is bad_field, neither stored nor broadcast', async (t) => {
  const srv = await startServer(t, { set: { ...FAST, 'limits.max_url_bytes': 512 } });
  const roomId = newRoomId();
  const [host, guest] = await party(srv, 2, { roomId });
  const good = 'https://www.netflix.com/watch/80100172';
  host.send({ type: 'URL_CHANGE', url: good });
  assert.equal((await guest.next('URL_CHANGE')).url, good);
  const prefix = 'https://www.netflix.com/';
  const atBound = prefix + 'a'.repeat(512 - prefix.length);
  for (const bad of [`${prefix}\u0000`, `${prefix}\u001b[2J`, `${prefix}x\u0085`, `${prefix}\u007f`, `${atBound}a`, prefix + 'a'.repeat(60000)]) {
    host.send({ type: 'URL_CHANGE', url: bad });
    await host.expectError('bad_field');
  }
  await guest.none('URL_CHANGE', 300);
  guest.send({ type: 'REQUEST_SYNC' });
  assert.equal((await guest.next('SYNC_RESPONSE')).url, good, 'a refused URL was stored');
  // Exactly limits.max_url_bytes is accepted.
  host.send({ type: 'URL_CHANGE', url: atBound });
  assert.equal((await guest.next('URL_CHANGE')).url, atBound);
  for (const m of [host, guest]) m.assertSeqOrder();
});

test('URL_CHANGE honours rooms.allowed_url_prefixes from TANDEM_ROOMS_ALLOWED_URL_PREFIXES', async (t) => {
  const srv = await startServer(t, { set: FAST, env: { TANDEM_ROOMS_ALLOWED_URL_PREFIXES: 'https://a.example/,https://b.example/watch/' } });
  const [host] = await party(srv, 1, { roomId: newRoomId() });
  host.send({ type: 'URL_CHANGE', url: 'https://b.example/watch/1' });
  assert.equal((await host.next((f) => f.type === 'URL_CHANGE' || f.type === 'ERROR')).type, 'URL_CHANGE');
  host.send({ type: 'URL_CHANGE', url: 'https://a.example/x' });
  assert.equal((await host.next((f) => f.type === 'URL_CHANGE' || f.type === 'ERROR')).type, 'URL_CHANGE');
  host.send({ type: 'URL_CHANGE', url: 'https://www.netflix.com/watch/1' });
  await host.expectError('bad_url');
  host.send({ type: 'URL_CHANGE', url: 'https://b.example/other' });
  await host.expectError('bad_url');
});

test('UPDATE_USERNAME: cleaned, stored and sent as USERNAME_UPDATED to the room incl. sender; a long name is cut, never rejected', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const long = 'L'.repeat(80);
  const a = await Client.connect(srv);
  const stateA = await a.join({ roomId, userId: newUserId('a'), username: long });
  assert.equal(stateA.users[0].username, 'L'.repeat(50));
  const b = await Client.connect(srv);
  await b.join({ roomId, userId: newUserId('b'), username: '  Bob\u0007  ' });
  const joined = await a.next('USER_JOINED');
  assert.equal(joined.username, 'Bob');
  b.send({ type: 'UPDATE_USERNAME', username: '\tRobert\u0000 ', userId: b.userId, roomId });
  for (const m of [a, b]) {
    const f = await m.next('USERNAME_UPDATED');
    assert.equal(f.userId, b.userId);
    assert.equal(f.username, 'Robert');
    assert.ok(Number.isInteger(f.seq));
  }
  b.send({ type: 'UPDATE_USERNAME', username: '   ' });
  assert.equal((await a.next('USERNAME_UPDATED')).username, null, 'an empty name is sent as null');
  b.send({ type: 'UPDATE_USERNAME', username: 42 });
  await b.expectError('invalid_username');
  b.send({ type: 'UPDATE_USERNAME', username: 'Rob' });
  await a.next('USERNAME_UPDATED');
  const c = await Client.connect(srv);
  const stateC = await c.join({ roomId, userId: newUserId('c') });
  assert.deepEqual(stateC.users.map((u) => u.username), ['L'.repeat(50), 'Rob', null]);
  b.send({ type: 'JOIN', roomId, userId: newUserId('x'), username: { bad: 1 } });
  await b.expectError('invalid_username');
  for (const m of [a, b, c]) m.assertSeqOrder();
});

test('TOGGLE_GUEST_CONTROL: host only; guest control lets a guest PLAY_PAUSE, SEEK and URL_CHANGE', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [host, guest, other] = await party(srv, 3, { roomId });
  guest.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 1 });
  await guest.expectError('not_allowed');
  guest.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: true });
  await guest.expectError('not_allowed');
  await other.none('PLAY_PAUSE', 200);
  await other.none('GUEST_CONTROL', 10);
  host.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: true, userId: host.userId, roomId });
  for (const m of [host, guest, other]) {
    const f = await m.next('GUEST_CONTROL');
    assert.equal(f.enabled, true);
    assert.ok(Number.isInteger(f.seq));
  }
  guest.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 2 });
  for (const m of [host, guest, other]) {
    const f = await m.next('PLAY_PAUSE');
    assert.equal(f.userId, guest.userId);
    assert.equal(f.control, 'play');
  }
  guest.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: false });
  await guest.expectError('not_allowed');
  const late = await Client.connect(srv);
  assert.equal((await late.join({ roomId, userId: newUserId() })).guestControlEnabled, true);
  host.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: false });
  for (const m of [host, guest, other, late]) assert.equal((await m.next('GUEST_CONTROL')).enabled, false);
  guest.send({ type: 'PLAY_PAUSE', control: 'pause' });
  await guest.expectError('not_allowed');
  for (const m of [host, guest, other, late]) m.assertSeqOrder();
  assertSameBroadcasts([host, guest, other, late]);
});

test('TRANSFER_HOST: host only, target must be a member (bad_target), HOST_CHANGED to the room moves control', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [host, guest, other] = await party(srv, 3, { roomId });
  guest.send({ type: 'TRANSFER_HOST', targetUserId: guest.userId });
  await guest.expectError('not_allowed');
  host.send({ type: 'TRANSFER_HOST', targetUserId: 'user_not_here' });
  await host.expectError('bad_target');
  host.send({ type: 'TRANSFER_HOST', targetUserId: guest.userId });
  for (const m of [host, guest, other]) {
    const f = await m.next('HOST_CHANGED');
    assert.equal(f.hostUserId, guest.userId);
    assert.ok(Number.isInteger(f.seq));
  }
  host.send({ type: 'PLAY_PAUSE', control: 'play' });
  await host.expectError('not_allowed');
  guest.send({ type: 'PLAY_PAUSE', control: 'play' });
  assert.equal((await other.next('PLAY_PAUSE')).userId, guest.userId);
  const late = await Client.connect(srv);
  assert.equal((await late.join({ roomId, userId: newUserId() })).hostUserId, guest.userId);
  for (const m of [host, guest, other, late]) m.assertSeqOrder();
});

test('generic relay of an unknown type (userId overwritten, nodeId, timestamp, seq) and targeted relay of a custom type with `to`', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [a, b, c] = await party(srv, 3, { roomId });
  b.send({ type: 'CHAT_MESSAGE', text: 'hello', nested: { x: [1, 2] }, userId: 'forged', roomId });
  for (const m of [a, b, c]) {
    const f = await m.next('CHAT_MESSAGE');
    assert.equal(f.userId, b.userId);
    assert.equal(f.text, 'hello');
    assert.deepEqual(f.nested, { x: [1, 2] });
    assert.equal(typeof f.nodeId, 'string');
    assertNow(f.timestamp, 'generic relay');
    assert.ok(Number.isInteger(f.seq), `generic relay without seq: ${JSON.stringify(f)}`);
  }
  b.send({ type: 'PLAYBACK_ACK', to: c.userId, ack: 7, userId: 'forged', from: 'forged' });
  const ack = await c.next('PLAYBACK_ACK');
  assert.equal(ack.userId, b.userId);
  assert.equal(ack.from, b.userId);
  assert.equal(ack.ack, 7);
  assert.equal(typeof ack.nodeId, 'string');
  assertNow(ack.timestamp, 'targeted relay');
  assert.equal(ack.seq, undefined);
  // A peer's SYNC_RESPONSE is allowed with a `to`.
  a.send({ type: 'SYNC_RESPONSE', to: b.userId, currentTime: 3, isPlaying: true, url: '' });
  const sr = await b.next('SYNC_RESPONSE');
  assert.equal(sr.from, a.userId);
  assert.equal(sr.userId, a.userId);
  assert.equal(sr.currentTime, 3);
  await a.none((f) => f.type === 'PLAYBACK_ACK' || f.type === 'SYNC_RESPONSE', 300);
  await b.none('PLAYBACK_ACK', 10);
  await c.none('SYNC_RESPONSE', 10);
  for (const m of [a, b, c]) m.assertSeqOrder();
});

test('a peer\'s SYNC_RESPONSE obeys the controller rule, the field types and the URL allow-list', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const [host, guest] = await party(srv, 2, { roomId: newRoomId() });
  const refused = async (sender, frame, code) => {
    sender.send(frame);
    assert.equal((await sender.next('ERROR')).code, code, JSON.stringify(frame));
  };
  await refused(guest, { type: 'SYNC_RESPONSE', to: host.userId, currentTime: 999, isPlaying: true, url: '' }, 'not_allowed');
  await refused(host, { type: 'SYNC_RESPONSE', to: guest.userId, currentTime: 1, url: 'https://evil.example/' }, 'bad_url');
  await refused(host, { type: 'SYNC_RESPONSE', to: guest.userId, currentTime: 1, url: 'https://www.netflix.com/\u001b[2J' }, 'bad_field');
  await refused(host, { type: 'SYNC_RESPONSE', to: guest.userId, currentTime: 'x' }, 'bad_field');
  await refused(host, { type: 'SYNC_RESPONSE', to: guest.userId, isPlaying: 'yes' }, 'bad_field');
  await host.none('SYNC_RESPONSE', 100);
  await guest.none('SYNC_RESPONSE', 10);
  host.send({ type: 'SYNC_RESPONSE', to: guest.userId, currentTime: 7, isPlaying: false, url: 'https://www.netflix.com/watch/1' });
  assert.equal((await guest.next('SYNC_RESPONSE')).url, 'https://www.netflix.com/watch/1');
  // With guest control on, the guest is a controller too.
  host.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: true });
  await guest.next('GUEST_CONTROL');
  guest.send({ type: 'SYNC_RESPONSE', to: host.userId, currentTime: 8, isPlaying: true });
  assert.equal((await host.next('SYNC_RESPONSE')).currentTime, 8);
});

test('every member receives every broadcast exactly once, in seq order, under concurrent senders', async (t) => {
  const srv = await startServer(t, { set: { ...FAST, 'limits.msgs_per_sec': 5000, 'limits.msgs_burst': 5000 } });
  const roomId = newRoomId();
  const members = await party(srv, 4, { roomId });
  const [host] = members;
  host.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: true });
  for (const m of members) await m.next('GUEST_CONTROL');
  const perSender = 150;
  for (let i = 0; i < perSender; i++) {
    members.forEach((m, k) => {
      if (i % 3 === 0) m.send({ type: 'PLAY_PAUSE', control: i % 2 ? 'play' : 'pause', currentTime: i + 1 });
      else if (i % 3 === 1) m.send({ type: 'HOST_HEARTBEAT', currentTime: i + 1, isPlaying: true });
      else m.send({ type: 'CUSTOM_EVENT', k, i });
    });
  }
  // A member that joins in the middle of the storm sees a gapless tail.
  const late = await Client.connect(srv, { name: 'late' });
  await late.join({ roomId, userId: newUserId('late') });
  const total = perSender * members.length;
  const isStorm = (f) => ['PLAY_PAUSE', 'HOST_HEARTBEAT', 'CUSTOM_EVENT'].includes(f.type);
  for (const m of members) {
    const deadline = Date.now() + 20000;
    while (m.log.filter(isStorm).length < total && Date.now() < deadline) await sleep(50);
    assert.equal(m.log.filter(isStorm).length, total, `${m.name} got ${m.log.filter(isStorm).length} of ${total} broadcasts`);
    await m.none('ERROR', 10);
  }
  await sleep(200);
  for (const m of [...members, late]) m.assertSeqOrder();
  assertSameBroadcasts([...members, late]);
  // The same senders' frames arrive in their sending order (per-connection order).
  for (const m of members) {
    for (let k = 0; k < members.length; k++) {
      const is = m.log.filter((f) => f.type === 'CUSTOM_EVENT' && f.k === k).map((f) => f.i);
      assert.deepEqual(is, [...is].sort((x, y) => x - y), `${m.name}: frames of sender ${k} out of order`);
    }
  }
});

test('room ids are opaque: ids containing `:`, `{`, `*`, `/` never alias another room', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const base = newRoomId();
  const ids = [base, `${base}:users`, `${base}:*`, `{${base}}`, `${base}/x`, `${base}:state`];
  const clients = [];
  for (const id of ids) {
    const c = await Client.connect(srv);
    const state = await c.join({ roomId: id, userId: newUserId('o'), username: id.slice(-6) });
    assert.equal(state.roomId, id);
    assert.equal(state.users.length, 1, `room ${id} aliases another: ${JSON.stringify(state.users)}`);
    assert.equal(state.hostUserId, c.userId);
    clients.push(c);
  }
  for (const c of clients) await c.none('USER_JOINED', 50);
  // userIds with the same characters: two members in one room.
  const r = newRoomId();
  const u1 = await Client.connect(srv);
  await u1.join({ roomId: r, userId: 'a:b' });
  const u2 = await Client.connect(srv);
  const s = await u2.join({ roomId: r, userId: 'a:b:c' });
  assert.deepEqual(s.users.map((u) => u.userId), ['a:b', 'a:b:c']);
});
