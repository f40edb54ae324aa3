// issue "tandem migrate and tandem rooms": serve (embedded) handles a short scripted party, then
// `tandem rooms list` and `tandem rooms events` show exactly those events, in seq order.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { party } from './lib/client.mjs';
import { TANDEM_BINARY, startServer } from './lib/server.mjs';
import { eventually, roomId as newRoomId } from './lib/util.mjs';

function rooms(srv, ...args) {
  const out = execFileSync(TANDEM_BINARY, ['rooms', ...args, '--set', `server.data_dir=${srv.dataDir}`, '--format', 'json'],
    { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
}

test('a scripted party is listed by `tandem rooms list` and its audit trail read back in seq order by `tandem rooms events`', async (t) => {
  const srv = await startServer(t);
  const roomId = newRoomId('scripted');
  const [a, b] = await party(srv, 2, { roomId, names: ['Ann', 'Bob'] });
  a.send({ type: 'URL_CHANGE', url: 'https://www.netflix.com/watch/7', currentTime: 1 });
  await b.next('URL_CHANGE');
  a.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 2 });
  await b.next('PLAY_PAUSE');
  b.send({ type: 'UPDATE_USERNAME', username: 'Robert' });
  await a.next('USERNAME_UPDATED');
  b.send({ type: 'LEAVE' });
  await a.next('USER_LEFT');

  const expected = [
    ['ROOM_CREATED', 0, a.userId],
    ['USER_JOINED', 1, a.userId],
    ['USER_JOINED', 2, b.userId],
    ['URL_CHANGE', 3, a.userId],
    ['PLAY_PAUSE', 4, a.userId],
    ['USERNAME_UPDATED', 5, b.userId],
    ['USER_LEFT', 6, b.userId],
  ];
  // The journal writes in batches (audit.flush_interval): wait until all are committed.
  const events = await eventually(() => {
    const got = rooms(srv, 'events', roomId);
    return got.length >= expected.length ? got : false;
  }, { timeoutMs: 5000, message: 'all events in SQLite' });
  assert.deepEqual(events.map((e) => [e.type, e.seq, e.user]), expected);
  assert.ok(events.every((e) => e.room === roomId));

  const listed = await eventually(() => rooms(srv, 'list').find((r) => r.id === roomId && r.members === 1) ?? false,
    { timeoutMs: 5000, message: 'the room listed live with one member' });
  assert.equal(listed.state, 'live');
  assert.equal(listed.host, a.userId);

  const onlyPlay = rooms(srv, 'events', roomId, '--type', 'PLAY_PAUSE');
  assert.deepEqual(onlyPlay.map((e) => e.seq), [4]);
});
