// docs/protocol.md §2 (seat takeover, room switch), §4 (host leave, disconnect, grace), §5 (lifetime).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, party } from './lib/client.mjs';
import { get } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';
import { roomId as newRoomId, sleep, userId as newUserId } from './lib/util.mjs';

const FAST = { 'rooms.host_grace': '1s', 'rooms.ready_timeout': '1s' };

test('host LEAVE: HOST_CHANGED (earliest-joined member) then USER_LEFT to all incl. the leaver, then close 1000', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const members = await party(srv, 4, { roomId });
  const [a, b, c, d] = members;
  a.send({ type: 'LEAVE', userId: a.userId, roomId });
  for (const m of members) {
    const hc = await m.next('HOST_CHANGED');
    const ul = await m.next('USER_LEFT');
    assert.equal(hc.hostUserId, b.userId, 'the earliest-joined remaining member becomes host');
    assert.equal(ul.userId, a.userId);
    assert.equal(typeof ul.peerId, 'string');
    assert.equal(ul.seq, hc.seq + 1, 'HOST_CHANGED precedes USER_LEFT');
    assert.ok(m.log.indexOf(hc) < m.log.indexOf(ul));
  }
  const closed = await a.waitClose(2000);
  assert.equal(closed.code, 1000);
  assert.equal(closed.reason, 'Client left');
  // The new host controls, the others do not.
  c.send({ type: 'PLAY_PAUSE', control: 'play' });
  await c.expectError('not_allowed');
  b.send({ type: 'PLAY_PAUSE', control: 'play' });
  await d.next({ type: 'PLAY_PAUSE', userId: b.userId });
  // A guest LEAVE: USER_LEFT with the peerId the others saw in USER_JOINED, no HOST_CHANGED.
  const peerOfD = b.log.find((f) => f.type === 'USER_JOINED' && f.userId === d.userId).peerId;
  d.send({ type: 'LEAVE' });
  for (const m of [b, c, d]) {
    const ul = await m.next('USER_LEFT');
    assert.equal(ul.userId, d.userId);
    assert.equal(ul.peerId, peerOfD);
  }
  assert.equal((await d.waitClose(2000)).code, 1000);
  await b.none('HOST_CHANGED', 300);
  for (const m of [b, c]) m.assertSeqOrder();
  a.assertSeqOrder();
  d.assertSeqOrder();
});

test('host disconnect: USER_LEFT at once, HOST_CHANGED only after rooms.host_grace; ROOM_STATE names the absent host meanwhile', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [a, b, c] = await party(srv, 3, { roomId });
  const goneAt = Date.now();
  a.terminate(); // TCP gone without LEAVE
  for (const m of [b, c]) {
    const ul = await m.next('USER_LEFT', 2000);
    assert.equal(ul.userId, a.userId);
    assert.ok(ul._at - goneAt < 700, `USER_LEFT ${ul._at - goneAt} ms after the disconnect`);
  }
  await b.none('HOST_CHANGED', 400);
  // Joining during the grace: ROOM_STATE still names the absent host.
  const d = await Client.connect(srv, { name: 'd' });
  const state = await d.join({ roomId, userId: newUserId('d') });
  assert.equal(state.hostUserId, a.userId);
  for (const m of [b, c, d]) {
    const hc = await m.next('HOST_CHANGED', 3000);
    const after = hc._at - goneAt;
    assert.ok(after >= 900 && after < 2500, `HOST_CHANGED ${after} ms after the disconnect (grace 1 s)`);
    assert.equal(hc.hostUserId, b.userId);
  }
  b.send({ type: 'PLAY_PAUSE', control: 'play' });
  await d.next({ type: 'PLAY_PAUSE', userId: b.userId });
  for (const m of [b, c, d]) m.assertSeqOrder();
});

test('host disconnect: re-joining within rooms.host_grace keeps the host role', async (t) => {
  const srv = await startServer(t, { set: { ...FAST, 'rooms.host_grace': '1500ms' } });
  const roomId = newRoomId();
  const [a, b] = await party(srv, 2, { roomId });
  a.terminate();
  await b.next({ type: 'USER_LEFT', userId: a.userId });
  await sleep(300);
  const a2 = await Client.connect(srv, { name: 'a2' });
  const state = await a2.join({ roomId, userId: a.userId, username: 'Member 0' });
  assert.equal(state.hostUserId, a.userId);
  const uj = await b.next('USER_JOINED');
  assert.equal(uj.userId, a.userId);
  await b.none('HOST_CHANGED', 2000);
  await a2.none('HOST_CHANGED', 10);
  a2.send({ type: 'PLAY_PAUSE', control: 'play' });
  assert.equal((await b.next('PLAY_PAUSE')).userId, a.userId);
  b.send({ type: 'PLAY_PAUSE', control: 'pause' });
  await b.expectError('not_allowed');
  a2.assertSeqOrder();
  b.assertSeqOrder();
});

test('host grace expired: the next JOIN to a room without its host makes the earliest member host, HOST_CHANGED to all', async (t) => {
  const srv = await startServer(t, { set: { ...FAST, 'rooms.host_grace': '500ms', 'rooms.empty_ttl': '30s' } });
  const roomId = newRoomId();
  const [a] = await party(srv, 1, { roomId });
  a.terminate();
  await sleep(1200); // grace over, room empty but kept (empty_ttl)
  const n = await Client.connect(srv);
  const state = await n.join({ roomId, userId: newUserId('n') });
  const hc = await n.next('HOST_CHANGED', 2000);
  assert.equal(hc.hostUserId, n.userId);
  assert.equal(state.hostUserId, n.userId, "the joiner's ROOM_STATE already names it host");
  assert.ok(n.log.indexOf(state) < n.log.indexOf(hc), 'HOST_CHANGED after the ROOM_STATE');
  n.send({ type: 'PLAY_PAUSE', control: 'play' });
  await n.next('PLAY_PAUSE');
  n.assertSeqOrder();
});

test('seat takeover with the same userId: old socket gets ERROR replaced + close 4001, no USER_LEFT, USER_JOINED with the new peerId, place and host role kept', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [h, a, b] = await party(srv, 3, { roomId });
  const oldPeer = b.log.find((f) => f.type === 'USER_JOINED' && f.userId === a.userId)?.peerId
    ?? h.log.find((f) => f.type === 'USER_JOINED' && f.userId === a.userId).peerId;
  const oldToken = a.roomState.sessionToken;
  // a reconnects while its old connection is still open (half-open TCP).
  const a2 = await Client.connect(srv, { name: 'a2' });
  const state = await a2.join({ roomId, userId: a.userId, username: 'Member 1' });
  const err = await a.next('ERROR');
  assert.equal(err.code, 'replaced');
  assert.equal((await a.waitClose(2000)).code, 4001);
  assert.deepEqual(state.users.map((u) => u.userId), [h.userId, a.userId, b.userId], 'the user keeps its place in the join order');
  assert.notEqual(state.sessionToken, oldToken, 'sessionToken renewed by the JOIN');
  for (const m of [h, b]) {
    const uj = await m.next('USER_JOINED');
    assert.equal(uj.userId, a.userId);
    assert.notEqual(uj.peerId, oldPeer, 'USER_JOINED carries the new peerId');
    await m.none('USER_LEFT', 600);
  }
  // The host's seat taken over keeps the host role, even past the grace.
  const h2 = await Client.connect(srv, { name: 'h2' });
  const hs = await h2.join({ roomId, userId: h.userId });
  assert.equal((await h.waitClose(2000)).code, 4001);
  assert.equal(hs.hostUserId, h.userId);
  assert.deepEqual(hs.users.map((u) => u.userId), [h.userId, a.userId, b.userId]);
  await b.next({ type: 'USER_JOINED', userId: h.userId });
  await b.none((f) => f.type === 'USER_LEFT' || f.type === 'HOST_CHANGED', 1500);
  h2.send({ type: 'PLAY_PAUSE', control: 'play' });
  for (const m of [h2, a2, b]) await m.next({ type: 'PLAY_PAUSE', userId: h.userId });
  for (const m of [h2, a2, b]) m.assertSeqOrder();
});

test('repeated JOIN to the same room on the same socket answers ROOM_STATE again and USER_JOINED (same peerId) to the others', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [a, b] = await party(srv, 2, { roomId });
  const first = a.log.find((f) => f.type === 'USER_JOINED' && f.userId === b.userId);
  assert.match(first.peerId, /^[0-9a-f]{16}$/);
  const again = await b.join({ roomId, userId: b.userId, username: 'Member 1' });
  assert.deepEqual(again.users.map((u) => u.userId), [a.userId, b.userId]);
  const uj = await a.next('USER_JOINED');
  assert.equal(uj.userId, b.userId);
  // docs/protocol.md §2: the peerId belongs to the connection, so the others keep their WebRTC peer.
  assert.equal(uj.peerId, first.peerId);
  await a.none('USER_LEFT', 300);
  assert.ok(b.isOpen);
  // A new connection of the same user (a takeover) is a new peer.
  const b2 = await Client.connect(srv, { name: 'b2' });
  await b2.join({ roomId, userId: b.userId, username: 'Member 1' });
  const taken = await a.next({ type: 'USER_JOINED', userId: b.userId });
  assert.notEqual(taken.peerId, first.peerId);
  await a.none('USER_LEFT', 300);
  a.assertSeqOrder();
  b.assertSeqOrder();
  b2.assertSeqOrder();
});

test('room switch: a second JOIN for another room leaves the old one (USER_LEFT and host election there, nothing to the switcher), every time', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const r1 = newRoomId('one');
  const r2 = newRoomId('two');
  const r3 = newRoomId('three');
  const [a, b] = await party(srv, 2, { roomId: r1 });
  const state = await a.join({ roomId: r2, userId: a.userId, username: 'Member 0' });
  assert.equal(state.roomId, r2);
  assert.deepEqual(state.users.map((u) => u.userId), [a.userId]);
  assert.equal(state.hostUserId, a.userId);
  const hc = await b.next('HOST_CHANGED');
  const ul = await b.next('USER_LEFT');
  assert.equal(hc.hostUserId, b.userId);
  assert.equal(ul.userId, a.userId);
  assert.ok(hc.seq < ul.seq);
  await a.none((f) => f.type === 'USER_LEFT' || f.type === 'HOST_CHANGED', 300);
  // An observer joins a's new room; a switches again: the observer must see a leave.
  const o = await Client.connect(srv, { name: 'observer' });
  await o.join({ roomId: r2, userId: newUserId('o') });
  await a.next({ type: 'USER_JOINED', userId: o.userId });
  const s3 = await a.join({ roomId: r3, userId: a.userId, username: 'Member 0' });
  assert.equal(s3.roomId, r3);
  const hc2 = await o.next('HOST_CHANGED');
  const ul2 = await o.next('USER_LEFT');
  assert.equal(hc2.hostUserId, o.userId);
  assert.equal(ul2.userId, a.userId);
  const presence = (await get(srv, `/api/rooms/${encodeURIComponent(r2)}/presence`)).json();
  assert.equal(presence.count, 1, `${r2} still counts the member who switched away`);
  const late = await Client.connect(srv);
  const s2 = await late.join({ roomId: r2, userId: newUserId('l') });
  assert.deepEqual(s2.users.map((u) => u.userId), [o.userId, late.userId]);
  // The switcher only hears from its current room.
  o.send({ type: 'PLAY_PAUSE', control: 'play' });
  await late.next('PLAY_PAUSE');
  await a.none('PLAY_PAUSE', 300);
  for (const m of [a, b, o, late]) m.assertSeqOrder();
});

test('a second JOIN that fails validation leaves the socket bound to its current room', async (t) => {
  const srv = await startServer(t, { set: FAST });
  const roomId = newRoomId();
  const [a, b] = await party(srv, 2, { roomId });
  for (const bad of [{ roomId: 'x'.repeat(65), userId: b.userId }, { roomId: newRoomId(), userId: '' }, { roomId: newRoomId(), userId: b.userId, username: 5 }]) {
    b.send({ type: 'JOIN', ...bad });
    const err = await b.next('ERROR');
    assert.notEqual(err.code, 'not_joined', JSON.stringify(err));
    b.send({ type: 'CHAT', text: 'still here?' });
    const echo = await b.next((f) => f.type === 'CHAT' || f.type === 'ERROR');
    assert.equal(echo.type, 'CHAT', `after a failed JOIN ${JSON.stringify(bad)} -> ${JSON.stringify(err)}, a frame from the socket answered ${JSON.stringify(echo)}`);
    await a.next('CHAT');
  }
  await a.none('USER_LEFT', 200);
  // The same after a room switch.
  const r2 = newRoomId('switched');
  await b.join({ roomId: r2, userId: b.userId });
  await a.next({ type: 'USER_LEFT', userId: b.userId });
  const o = await Client.connect(srv, { name: 'observer' });
  await o.join({ roomId: r2, userId: newUserId('o') });
  b.send({ type: 'JOIN', roomId: 'y'.repeat(65), userId: b.userId });
  const err = await b.next('ERROR');
  assert.equal(err.code, 'invalid_room_id');
  b.send({ type: 'CHAT', text: 'still here after the switch?' });
  const echo = await b.next((f) => f.type === 'CHAT' || f.type === 'ERROR');
  assert.equal(echo.type, 'CHAT', `after a switch and a failed JOIN, a frame from the socket answered ${JSON.stringify(echo)}`);
  await o.next('CHAT');
  for (const m of [a, b, o]) m.assertSeqOrder();
});

test('room lifetime: all members disconnected → state kept for rooms.empty_ttl; last LEAVE → archived at once', async (t) => {
  const srv = await startServer(t, { set: { ...FAST, 'rooms.empty_ttl': '1500ms', 'rooms.host_grace': '5s' } });
  const url = 'https://www.netflix.com/watch/42';
  const kept = newRoomId('kept');
  const [a] = await party(srv, 1, { roomId: kept });
  a.send({ type: 'URL_CHANGE', url, currentTime: 77 });
  await a.next('URL_CHANGE');
  a.terminate();
  await sleep(300);
  const back = await Client.connect(srv);
  let state = await back.join({ roomId: kept, userId: newUserId('b') });
  assert.equal(state.url, url, 'a room emptied by disconnects keeps its state');
  assert.equal(state.currentTime, 77);
  assert.equal(state.hostUserId, a.userId);
  back.terminate();
  await sleep(2500);
  const fresh = await Client.connect(srv);
  state = await fresh.join({ roomId: kept, userId: newUserId('c') });
  assert.equal(state.url, '', 'after rooms.empty_ttl the room is gone');
  assert.equal(state.hostUserId, fresh.userId);

  const left = newRoomId('left');
  const [x] = await party(srv, 1, { roomId: left });
  x.send({ type: 'URL_CHANGE', url, currentTime: 9 });
  await x.next('URL_CHANGE');
  x.send({ type: 'LEAVE' });
  await x.waitClose();
  const y = await Client.connect(srv);
  state = await y.join({ roomId: left, userId: newUserId('y') });
  assert.equal(state.url, '', 'the last LEAVE archives the room at once');
  assert.equal(state.hostUserId, y.userId);
});
