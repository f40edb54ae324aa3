// docs/protocol.md §6: SEEK opens a READY gate; quorum, timeout, cancellation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, party } from './lib/client.mjs';
import { startServer } from './lib/server.mjs';
import { roomId as newRoomId, userId as newUserId } from './lib/util.mjs';

const serverPlay = (f) => f.type === 'PLAY_PAUSE' && f.userId === 'server';

test('SEEK: SEEK_PAUSE to every member incl. the seeker; the room is paused at the target', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '1s', 'rooms.host_grace': '1s' } });
  const roomId = newRoomId();
  const members = await party(srv, 2, { roomId });
  const [host, guest] = members;
  host.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 5 });
  for (const m of members) await m.next('PLAY_PAUSE');
  const et = Date.now() - 50;
  host.send({ type: 'SEEK', currentTime: 42.25, isPlaying: false, eventTimestamp: et, userId: host.userId, roomId });
  for (const m of members) {
    const f = await m.next('SEEK_PAUSE');
    assert.equal(f.userId, host.userId);
    assert.equal(f.currentTime, 42.25);
    assert.equal(f.eventTimestamp, et);
    assert.equal(typeof f.timestamp, 'number');
    assert.ok(Number.isInteger(f.seq));
  }
  guest.send({ type: 'REQUEST_SYNC' });
  const sync = await guest.next('SYNC_RESPONSE');
  assert.equal(sync.currentTime, 42.25);
  assert.equal(sync.isPlaying, false);
  host.send({ type: 'SEEK', currentTime: 1, isPlaying: false });
  assert.equal((await guest.next('SEEK_PAUSE')).eventTimestamp, null, 'SEEK without eventTimestamp relays null');
  guest.send({ type: 'SEEK', currentTime: 3, isPlaying: true });
  await guest.expectError('not_allowed');
  for (const m of members) m.assertSeqOrder();
});

test('READY gate: with 3 members one READY reaches the quorum (the seeker counts) and the server plays at the target', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '3s' } });
  const roomId = newRoomId();
  const members = await party(srv, 3, { roomId });
  const [host, b, c] = members;
  host.send({ type: 'SEEK', currentTime: 42, isPlaying: true, eventTimestamp: Date.now() });
  for (const m of members) await m.next('SEEK_PAUSE');
  await host.none(serverPlay, 300); // 1 of 3 ready: below ceil(0.6*3) = 2
  const readyAt = Date.now();
  b.send({ type: 'READY', targetTime: 42, userId: b.userId, roomId });
  for (const m of members) {
    const f = await m.next(serverPlay, 2000);
    assert.ok(f._at - readyAt < 1500, `release came ${f._at - readyAt} ms after the quorum READY (timeout is 3 s)`);
    assert.equal(f.control, 'play');
    assert.equal(f.currentTime, 42);
    assert.equal(typeof f.eventTimestamp, 'number');
    assert.ok(f.eventTimestamp >= readyAt - 1000 && f.eventTimestamp <= Date.now() + 1000,
      `eventTimestamp ${f.eventTimestamp} is not the release time (READY sent at ${readyAt})`);
    assert.equal(typeof f.timestamp, 'number');
    assert.ok(Number.isInteger(f.seq));
  }
  c.send({ type: 'READY' });
  await host.none(serverPlay, 500);
  host.send({ type: 'REQUEST_SYNC' });
  const sync = await host.next('SYNC_RESPONSE');
  assert.equal(sync.isPlaying, true);
  assert.ok(sync.currentTime >= 42 && sync.currentTime < 44, `position after release ${sync.currentTime}`);
  for (const m of members) m.assertSeqOrder();
});

test('READY gate: a lone seeker is a quorum by itself (max(1, ceil(0.6)))', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '5s' } });
  const [host] = await party(srv, 1, { roomId: newRoomId() });
  const sentAt = Date.now();
  host.send({ type: 'SEEK', currentTime: 7, isPlaying: true });
  await host.next('SEEK_PAUSE');
  const f = await host.next(serverPlay, 2000);
  assert.ok(f._at - sentAt < 1500, `lone seeker released after ${f._at - sentAt} ms`);
  assert.equal(f.currentTime, 7);
  host.assertSeqOrder();
});

test('READY gate: without enough READYs the gate releases after rooms.ready_timeout', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '1s' } });
  const members = await party(srv, 3, { roomId: newRoomId() });
  const [host] = members;
  const sentAt = Date.now();
  host.send({ type: 'SEEK', currentTime: 100, isPlaying: true });
  for (const m of members) {
    const f = await m.next(serverPlay, 4000);
    const after = f._at - sentAt;
    assert.ok(after >= 800 && after < 2500, `timeout release after ${after} ms, ready_timeout is 1 s`);
    assert.equal(f.currentTime, 100);
    assert.equal(f.control, 'play');
  }
  await host.none(serverPlay, 300);
  for (const m of members) m.assertSeqOrder();
});

test('READY gate: READY from a member who joined after the SEEK does not count', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '3s' } });
  const roomId = newRoomId();
  const [host, b] = await party(srv, 2, { roomId });
  host.send({ type: 'SEEK', currentTime: 9, isPlaying: true });
  await b.next('SEEK_PAUSE');
  const late = await Client.connect(srv);
  await late.join({ roomId, userId: newUserId('late') });
  late.send({ type: 'READY' });
  late.send({ type: 'READY' });
  await host.none(serverPlay, 500);
  b.send({ type: 'READY' });
  const f = await late.next(serverPlay, 1500);
  assert.equal(f.currentTime, 9);
});

test('READY gate: a member who leaves is removed from the expected set and the quorum re-evaluated', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '4s' } });
  const [host, b] = await party(srv, 2, { roomId: newRoomId() });
  host.send({ type: 'SEEK', currentTime: 11, isPlaying: true });
  await b.next('SEEK_PAUSE');
  await host.none(serverPlay, 300); // 1 of 2 ready, quorum 2
  const leftAt = Date.now();
  b.send({ type: 'LEAVE' });
  await host.next('USER_LEFT');
  const f = await host.next(serverPlay, 2000);
  assert.ok(f._at - leftAt < 1500, `released ${f._at - leftAt} ms after the leave`);
  assert.equal(f.currentTime, 11);
});

test('READY gate: PLAY_PAUSE cancels a pending gate (no server play afterwards)', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '1s' } });
  const members = await party(srv, 3, { roomId: newRoomId() });
  const [host, b, c] = members;
  host.send({ type: 'SEEK', currentTime: 50, isPlaying: true });
  for (const m of members) await m.next('SEEK_PAUSE');
  host.send({ type: 'PLAY_PAUSE', control: 'pause', currentTime: 50 });
  for (const m of members) await m.next('PLAY_PAUSE');
  b.send({ type: 'READY' });
  c.send({ type: 'READY' });
  for (const m of members) await m.none(serverPlay, 1800);
  host.send({ type: 'REQUEST_SYNC' });
  assert.equal((await host.next('SYNC_RESPONSE')).isPlaying, false);
});

test('READY gate: URL_CHANGE and a second SEEK cancel / replace the gate', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '1s' } });
  const members = await party(srv, 3, { roomId: newRoomId() });
  const [host, b] = members;
  host.send({ type: 'SEEK', currentTime: 20, isPlaying: true });
  host.send({ type: 'URL_CHANGE', url: 'https://www.netflix.com/watch/3', currentTime: 0 });
  for (const m of members) await m.next('URL_CHANGE');
  b.send({ type: 'READY' });
  await host.none(serverPlay, 1800);
  host.send({ type: 'SEEK', currentTime: 30, isPlaying: true });
  host.send({ type: 'SEEK', currentTime: 35, isPlaying: true });
  const f = await b.next(serverPlay, 3000);
  assert.equal(f.currentTime, 35, 'only the replacing gate releases');
  await b.none(serverPlay, 1500);
  for (const m of members) m.assertSeqOrder();
});

test('READY gate: desiredPlay=false closes silently (no PLAY_PAUSE on quorum or timeout)', async (t) => {
  const srv = await startServer(t, { set: { 'rooms.ready_timeout': '1s' } });
  const members = await party(srv, 3, { roomId: newRoomId() });
  const [host, b, c] = members;
  host.send({ type: 'SEEK', currentTime: 60, isPlaying: false });
  for (const m of members) await m.next('SEEK_PAUSE');
  b.send({ type: 'READY' });
  c.send({ type: 'READY' });
  for (const m of members) await m.none('PLAY_PAUSE', 1800);
  host.send({ type: 'REQUEST_SYNC' });
  const sync = await host.next('SYNC_RESPONSE');
  assert.equal(sync.isPlaying, false);
  assert.equal(sync.currentTime, 60);
});
