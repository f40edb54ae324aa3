// issue "tandem migrate and tandem rooms": serve (embedded) handles a short scripted party, then
// `tandem rooms list` and `tandem rooms events` show exactly those events, in seq order.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
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

test('output formats: --no-headers, `rooms list --watch` until SIGINT, `migrate status --format json`', async (t) => {
  const srv = await startServer(t);
  const roomId = newRoomId('formats');
  await party(srv, 1, { roomId });
  const dataDir = `server.data_dir=${srv.dataDir}`;
  const run = (...args) => execFileSync(TANDEM_BINARY, [...args, '--set', dataDir], { encoding: 'utf8' });
  await eventually(() => run('rooms', 'list').includes(roomId), { timeoutMs: 5000, message: 'the room listed' });

  const table = run('rooms', 'list').trim().split('\n');
  assert.match(table[0], /^ROOM\s+STATE\s+MEMBERS/);
  const bare = run('rooms', 'list', '--no-headers').trim().split('\n');
  // The two listings may straddle a second: relative ages ("now", "1s ago") are compared as AGE.
  const sameAges = (line) => line.replace(/(now|\d+[smhd] ago)/g, 'AGE').replace(/\s+/g, ' ');
  assert.deepEqual(bare.map(sameAges), table.slice(1).map(sameAges));
  assert.ok(bare[0].startsWith(roomId), bare[0]);
  const csv = run('rooms', 'list', '--format', 'csv', '--no-headers').trim().split('\n');
  assert.ok(csv[0].startsWith(roomId), csv[0]);
  const events = run('rooms', 'events', roomId, '--no-headers').trim().split('\n');
  assert.match(events[0], /ROOM_CREATED/);

  // --watch lists again every --interval until SIGINT, each listing after a "# time" line (not a terminal).
  const watcher = spawn(TANDEM_BINARY, ['rooms', 'list', '--watch', '--interval', '200ms', '--format', 'json', '--set', dataDir]);
  let out = '';
  watcher.stdout.on('data', (d) => { out += d; });
  await eventually(() => (out.match(/^# \d{4}-/gm) ?? []).length >= 3, { timeoutMs: 5000, message: 'three listings' });
  watcher.kill('SIGINT');
  const [code] = await once(watcher, 'exit');
  assert.equal(code, 0);
  assert.ok(out.split('\n').filter((l) => l.startsWith('{')).every((l) => JSON.parse(l).id !== undefined));
  assert.throws(() => run('rooms', 'list', '--interval', '1s'), /--interval requires --watch|requires/);

  const status = JSON.parse(run('migrate', 'status', '--format', 'json'));
  assert.match(status.database, /tandem\.db/);
  assert.ok(status.version >= 5, `version ${status.version}`);
  assert.ok(status.migrations.length >= 5);
  assert.ok(status.migrations.every((m) => m.state === 'applied' && /^\d{4}-\d\d-\d\dT/.test(m.applied_at)));
  assert.deepEqual(status.migrations.map((m) => m.version), status.migrations.map((_, i) => i + 1));
  const plain = run('migrate', 'status', '--no-headers').trim().split('\n');
  assert.equal(plain.length, status.migrations.length);
  assert.match(plain[0], /^0001 /);
  assert.throws(() => run('migrate', 'status', '--format', 'xml'), /expected table or json/);
});
