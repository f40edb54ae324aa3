// docs/protocol.md §7 and §10: HTTP endpoints.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { Client, party } from './lib/client.mjs';
import { get, httpRequest, metricValue, metrics, rawConnect, rawRequest } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';
import { eventually, roomId as newRoomId, sleep, userId as newUserId } from './lib/util.mjs';

const enc = encodeURIComponent;

function assertCors(res, what) {
  assert.equal(res.headers['access-control-allow-origin'], '*', `${what}: Access-Control-Allow-Origin`);
  const methods = (res.headers['access-control-allow-methods'] || '').split(',').map((s) => s.trim()).filter(Boolean).sort();
  assert.deepEqual(methods, ['GET', 'HEAD', 'OPTIONS'], `${what}: Access-Control-Allow-Methods`);
  assert.equal((res.headers['access-control-allow-headers'] || '').toLowerCase(), 'content-type', `${what}: Access-Control-Allow-Headers`);
  assert.match(res.headers['access-control-expose-headers'] || '', /^\s*location\s*$/i, `${what}: Access-Control-Expose-Headers`);
}

test('GET /health, /ready and unknown paths', async (t) => {
  const srv = await startServer(t);
  const health = await get(srv, '/health');
  assert.equal(health.status, 200);
  const body = health.json();
  assert.equal(body.status, 'ok');
  assert.equal(typeof body.nodeId, 'string');
  assert.ok(body.nodeId.length > 0);
  assert.match(health.headers['content-type'] || '', /application\/json/);
  assert.equal((await get(srv, '/ready')).status, 200);
  for (const path of ['/', '/nope', '/api', '/api/unknown', '/healthz', '/statusx']) {
    const res = await get(srv, path);
    assert.equal(res.status, 404, `${path} answered ${res.status}`);
  }
});

test('GET /metrics: Prometheus text with the §10 metric names and live values', async (t) => {
  const srv = await startServer(t);
  const roomId = newRoomId();
  const [a, b] = await party(srv, 2, { roomId });
  a.send({ type: 'PLAY_PAUSE', control: 'play' });
  await b.next('PLAY_PAUSE');
  b.send({ type: 'PLAY_PAUSE', control: 'play' });
  await b.expectError('not_allowed');
  // A client's own relay types are counted as `other`: clients add no series.
  a.send({ type: 'CUSTOM_TYPE_1' });
  await b.next('CUSTOM_TYPE_1');
  const res = await get(srv, '/metrics');
  assert.equal(res.status, 200);
  assert.doesNotMatch(res.body, /CUSTOM_TYPE_1/);
  assert.match(res.body, /^tandem_messages_in_total\{type="other"\} [1-9]/m);
  assert.match(res.headers['content-type'] || '', /^text\/plain/);
  assert.match(res.headers['content-type'] || '', /version=0\.0\.4/);
  for (const name of ['tandem_connections', 'tandem_rooms', 'tandem_messages_in_total', 'tandem_messages_out_total',
    'tandem_errors_total', 'tandem_broadcast_latency_seconds', 'tandem_slow_consumer_disconnects_total',
    'tandem_audit_backlog', 'tandem_backend_errors_total']) {
    assert.match(res.body, new RegExp(`^# TYPE ${name} `, 'm'), `metric ${name} missing`);
  }
  assert.match(res.body, /^# TYPE tandem_connections gauge/m);
  assert.match(res.body, /^# TYPE tandem_rooms gauge/m);
  assert.match(res.body, /^# TYPE tandem_audit_backlog gauge/m);
  assert.match(res.body, /^# TYPE tandem_broadcast_latency_seconds histogram/m);
  assert.match(res.body, /^tandem_broadcast_latency_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} \d/m);
  assert.match(res.body, /^tandem_broadcast_latency_seconds_count(\{[^}]*\})? \d/m);
  const m = await metrics(srv);
  assert.equal(metricValue(m, 'tandem_connections'), 2);
  assert.equal(metricValue(m, 'tandem_rooms'), 1);
  assert.ok(metricValue(m, 'tandem_messages_in_total', { type: 'PLAY_PAUSE' }) >= 2, 'messages_in_total{type="PLAY_PAUSE"}');
  assert.ok(metricValue(m, 'tandem_messages_in_total', { type: 'JOIN' }) >= 2, 'messages_in_total{type="JOIN"}');
  assert.ok(metricValue(m, 'tandem_messages_out_total') >= 3, 'messages_out_total');
  assert.ok(metricValue(m, 'tandem_errors_total', { code: 'not_allowed' }) >= 1, 'errors_total{code="not_allowed"}');
  assert.ok(metricValue(m, 'tandem_broadcast_latency_seconds_count') >= 1);
  a.terminate();
  b.terminate();
  await eventually(async () => metricValue(await metrics(srv), 'tandem_connections') === 0, { message: 'tandem_connections back to 0' });
});

test('GET /metrics: tandem_event_loop_lag_seconds samples every loop; a node stopped for 400 ms shows a late timer on each', async (t) => {
  const srv = await startServer(t, { set: { 'server.threads': 2 } });
  const count = (m) => metricValue(m, 'tandem_event_loop_lag_seconds_count');
  // Samples later than 0.25 s: none on an idle node but what a slow host adds, hence a difference.
  const late = (m) => count(m) - metricValue(m, 'tandem_event_loop_lag_seconds_bucket', { le: '0.25' });
  await eventually(async () => count(await metrics(srv)) >= 6, { message: 'probes sampling (two loops, one sample each per 50 ms)' });
  const before = late(await metrics(srv));
  srv.proc.kill('SIGSTOP');
  await sleep(400);
  srv.proc.kill('SIGCONT');
  // Each loop's probe timer fell due during the stop and fired at least 350 ms late.
  await eventually(async () => late(await metrics(srv)) - before >= 2, { message: 'one late sample per loop after SIGCONT' });
});

test('server.internal_port: /metrics, /health, /ready only there; the public port serves the rest and the WebSockets', async (t) => {
  const srv = await startServer(t, { internalPort: true, set: { 'server.drain_timeout': '10s' } });
  const internal = srv.internal;
  const roomId = newRoomId();
  const [a, b] = await party(srv, 2, { roomId });
  for (const path of ['/metrics', '/health', '/ready']) {
    assert.equal((await get(srv, path)).status, 404, `public ${path}`);
    assert.equal((await get(internal, path)).status, 200, `internal ${path}`);
  }
  assert.equal(metricValue(await metrics(internal), 'tandem_connections'), 2);
  for (const path of ['/status', `/api/rooms/${enc(roomId)}/presence`, '/api/room/abc', '/']) {
    assert.equal((await get(internal, path)).status, 404, `internal ${path}`);
  }
  assert.equal((await get(srv, '/status')).status, 200, 'public /status');
  assert.equal((await get(srv, `/api/rooms/${enc(roomId)}/presence`)).json().count, 2, 'public presence');
  const upgrade = 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  assert.equal((await rawRequest(internal, upgrade)).status, 404, 'WebSocket upgrade on the internal port');
  assert.equal((await rawRequest(srv, upgrade)).status, 101, 'WebSocket upgrade on the public port');
  a.send({ type: 'PLAY_PAUSE', control: 'play' });
  await b.next('PLAY_PAUSE');
  // Draining: the public port stops accepting, the internal one still answers /ready, with 503.
  // A raw client that never answers the close frame holds the drain open (up to drain_timeout).
  const stuck = await rawConnect(srv);
  stuck.socket.write(upgrade);
  await eventually(() => stuck.data.startsWith('HTTP/1.1 101'), { message: '101 for the raw client' });
  a.close();
  b.close();
  srv.proc.kill('SIGTERM');
  await eventually(async () => (await get(internal, '/ready', { timeoutMs: 1000 })).status === 503,
    { message: 'internal /ready answered 503 while draining' });
  await assert.rejects(get(srv, '/status', { timeoutMs: 1000 }), 'the public port refuses while draining');
  stuck.socket.destroy();
  await srv.exited;
  assert.equal(srv.exit.code, 0, srv.logTail());
});

test('GET /status caller mode: only the rooms with a member at the caller\'s address; v2.0 shape', async (t) => {
  const srv = await startServer(t);
  const mine = newRoomId('mine');
  const theirs = newRoomId('theirs');
  const shared = newRoomId('shared');
  const url = 'https://www.netflix.com/watch/7';
  const a = await Client.connect(srv, { name: 'a', localAddress: '127.0.0.1' });
  await a.join({ roomId: mine, userId: newUserId('a'), username: 'Ann' });
  a.send({ type: 'URL_CHANGE', url, currentTime: 12 });
  await a.next('URL_CHANGE');
  const a2 = await Client.connect(srv, { name: 'a2', localAddress: '127.0.0.1' });
  await a2.join({ roomId: mine, userId: newUserId('a2'), username: null });
  const x = await Client.connect(srv, { name: 'x', localAddress: '127.0.0.2' });
  await x.join({ roomId: theirs, userId: newUserId('x'), username: 'Secret' });
  const s1 = await Client.connect(srv, { localAddress: '127.0.0.1' });
  await s1.join({ roomId: shared, userId: newUserId('s1') });
  const s2 = await Client.connect(srv, { localAddress: '127.0.0.2' });
  await s2.join({ roomId: shared, userId: newUserId('s2') });

  const status = await eventually(async () => {
    const res = await get(srv, '/status', { localAddress: '127.0.0.1' });
    assert.equal(res.status, 200);
    const body = res.json();
    const room = body.rooms.find((r) => r.roomId === mine);
    return room && room.users.length === 2 && body.rooms.some((r) => r.roomId === shared && r.users.length === 2) ? { res, body } : false;
  }, { timeoutMs: 3000, message: '/status listing the caller\'s rooms' });
  const { res, body } = status;
  assertCors(res, '/status');
  assert.equal(typeof body.nodeId, 'string');
  assert.equal(typeof body.timestamp, 'string');
  assert.ok(!Number.isNaN(Date.parse(body.timestamp)) && /^\d{4}-\d\d-\d\dT/.test(body.timestamp), `timestamp ${body.timestamp} is not ISO-8601`);
  assert.equal(typeof body.uptime, 'number');
  assert.equal(body.localConnections, 5);
  assert.equal(body.localRooms, 3);
  assert.equal(body.memory, undefined, '/status must not have a memory field');
  assert.deepEqual(body.rooms.map((r) => r.roomId).sort(), [mine, shared].sort());
  assert.ok(!res.body.includes(theirs) && !res.body.includes('Secret') && !res.body.includes(x.userId),
    'caller mode leaks another address\' room');
  const room = body.rooms.find((r) => r.roomId === mine);
  assert.equal(room.connectionCount, 2);
  assert.equal(room.isPlaying, false);
  assert.equal(room.currentTime, 12);
  assert.equal(room.currentUrl, url);
  assert.equal(room.hostUserId, a.userId);
  assert.deepEqual(room.users, [{ userId: a.userId, username: 'Ann' }, { userId: a2.userId, username: null }]);

  const other = await eventually(async () => {
    const b = (await get(srv, '/status', { localAddress: '127.0.0.2' })).json();
    return b.rooms.length === 2 ? b : false;
  }, { message: '/status from 127.0.0.2' });
  assert.deepEqual(other.rooms.map((r) => r.roomId).sort(), [shared, theirs].sort());
  const nobody = await get(srv, '/status', { localAddress: '127.0.0.3' });
  assert.equal(nobody.status, 200);
  assert.deepEqual(nobody.json().rooms, []);
  assert.ok(!nobody.body.includes(mine) && !nobody.body.includes(theirs));
  // A playing room's position is extrapolated.
  a.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 100 });
  await a.next('PLAY_PAUSE');
  await sleep(1500);
  const later = (await get(srv, '/status', { localAddress: '127.0.0.1' })).json().rooms.find((r) => r.roomId === mine);
  assert.equal(later.isPlaying, true);
  assert.ok(later.currentTime > 100 && later.currentTime < 102.5, `/status position ${later.currentTime}`);
});

test('GET /status with http.status_detail=full lists every room; =off answers 404', async (t) => {
  const full = await startServer(t, { set: { 'http.status_detail': 'full' } });
  const r1 = newRoomId();
  const r2 = newRoomId();
  const a = await Client.connect(full, { localAddress: '127.0.0.1' });
  await a.join({ roomId: r1, userId: newUserId() });
  const b = await Client.connect(full, { localAddress: '127.0.0.2' });
  await b.join({ roomId: r2, userId: newUserId() });
  const body = await eventually(async () => {
    const res = await get(full, '/status', { localAddress: '127.0.0.3' });
    const j = res.json();
    return j.rooms.length === 2 ? j : false;
  }, { message: 'full /status with both rooms' });
  assert.deepEqual(body.rooms.map((r) => r.roomId).sort(), [r1, r2].sort());

  const off = await startServer(t, { set: { 'http.status_detail': 'off' } });
  const c = await Client.connect(off);
  await c.join({ roomId: newRoomId(), userId: newUserId() });
  assert.equal((await get(off, '/status')).status, 404);
});

test('GET /api/rooms/{id}/presence: percent-decoded id, member count, 0 for an unknown room', async (t) => {
  const srv = await startServer(t);
  const roomId = 'movie night/ep:1 {x}*';
  await party(srv, 3, { roomId });
  const res = await get(srv, `/api/rooms/${enc(roomId)}/presence`);
  assert.equal(res.status, 200);
  assertCors(res, 'presence');
  assert.deepEqual(res.json(), { roomId, count: 3 });
  const unknown = await get(srv, `/api/rooms/${enc('never existed')}/presence`);
  assert.equal(unknown.status, 200);
  assert.deepEqual(unknown.json(), { roomId: 'never existed', count: 0 });
  for (const bad of ['/api/rooms/%zz/presence', '/api/rooms/abc%2/presence', '/api/rooms/%/presence']) {
    const r = await get(srv, bad);
    assert.equal(r.status, 400, `${bad} answered ${r.status}`);
  }
});

test('short ids: /api/short-id → /api/room → /room/{shortId}[/{pin}] 302 round trip for ids with `/`, `:`, spaces, `%`', async (t) => {
  const srv = await startServer(t, { set: { 'http.public_base_url': 'https://tandem.example' } });
  for (const roomId of ['plain_room_1', 'a/b', 'watch: party', 'x / y : z', '100% real', 'ünï cødé ☃']) {
    const c = await Client.connect(srv);
    await c.join({ roomId, userId: newUserId() });
    const res = await get(srv, `/api/short-id/${enc(roomId)}`);
    assert.equal(res.status, 200, `/api/short-id/${enc(roomId)} answered ${res.status} ${res.body}`);
    assertCors(res, 'short-id');
    const body = res.json();
    assert.match(body.shortId, /^[a-z0-9]{8}$/);
    assert.equal(body.roomId, roomId);
    assert.equal(body.shortUrl, `https://tandem.example/room/${body.shortId}`);
    const again = (await get(srv, `/api/short-id/${enc(roomId)}`)).json();
    assert.equal(again.shortId, body.shortId, 'same room → same short id');

    const lookup = await get(srv, `/api/room/${body.shortId}`);
    assert.equal(lookup.status, 200);
    assertCors(lookup, '/api/room');
    assert.deepEqual(lookup.json(), { roomId, shortId: body.shortId });

    for (const [path, pin] of [[`/room/${body.shortId}`, null], [`/room/${body.shortId}/4321`, '4321'],
      [`/room/${body.shortId}/`, null], [`/room/${body.shortId}?utm=1`, null], [`/room/${body.shortId}/4321/`, '4321']]) {
      const redirect = await get(srv, path);
      assert.equal(redirect.status, 302, `${path} answered ${redirect.status}`);
      assertCors(redirect, path);
      const location = redirect.headers.location;
      assert.ok(location && location.startsWith('https://www.netflix.com/?tandemRoom='), `Location ${location}`);
      assert.ok(!/[ \u0080-\uffff]/.test(location), `Location not encoded: ${location}`);
      const target = new URL(location);
      assert.equal(target.searchParams.get('tandemRoom'), roomId, `Location ${location} does not round-trip ${roomId}`);
      assert.equal(target.searchParams.get('pin'), pin);
      assert.deepEqual([...target.searchParams.keys()], pin ? ['tandemRoom', 'pin'] : ['tandemRoom']);
    }
  }
  const missing = await get(srv, '/api/room/zzzzzzzz');
  assert.equal(missing.status, 404);
  assertCors(missing, '/api/room 404');
  assert.deepEqual(missing.json(), { error: 'Room not found' });
  const missingRedirect = await get(srv, '/room/zzzzzzzz');
  assert.equal(missingRedirect.status, 404);
  assertCors(missingRedirect, '/room 404');
  assert.match(missingRedirect.headers['content-type'] || '', /^text\/plain/);
  assert.equal(missingRedirect.body, 'Room not found');
  // A short id for a room that does not exist yet (the extension asks right after JOIN).
  const early = await get(srv, `/api/short-id/${enc('not_yet_created')}`);
  assert.equal(early.status, 200);
  // Invalid ids.
  const tooLong = await get(srv, `/api/short-id/${'r'.repeat(65)}`);
  assert.equal(tooLong.status, 400);
  assertCors(tooLong, 'short-id 400');
  assert.deepEqual(tooLong.json(), { error: 'invalid room id' });
  assert.equal((await get(srv, `/api/short-id/${'r'.repeat(64)}`)).status, 200);
  assert.deepEqual((await get(srv, '/api/short-id/a%01b')).json(), { error: 'invalid room id' });
  for (const bad of ['/api/short-id/%zz', '/api/short-id/abc%4', '/api/short-id/%', '/api/short-id/%C3%28']) {
    const r = await get(srv, bad);
    assert.equal(r.status, 400, `${bad} answered ${r.status}`);
  }
});

test('short ids: limits.short_ids_per_minute newly minted ids per address, then 429', async (t) => {
  const srv = await startServer(t, { set: { 'limits.short_ids_per_minute': 3 } });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const res = await get(srv, `/api/short-id/limit_room_${i}`, { localAddress: '127.0.0.1' });
    assert.equal(res.status, 200);
    ids.push(res.json().shortId);
  }
  assert.equal((await get(srv, '/api/short-id/limit_room_3', { localAddress: '127.0.0.1' })).status, 429);
  const existing = await get(srv, '/api/short-id/limit_room_0', { localAddress: '127.0.0.1' });
  assert.equal(existing.status, 200, 'asking again for an already minted id is not a new mint');
  assert.equal(existing.json().shortId, ids[0]);
  assert.equal((await get(srv, '/api/short-id/limit_room_3', { localAddress: '127.0.0.2' })).status, 200, 'the limit is per address');
});

test('limits.lookups_per_minute: short ids, /room, /api/room and presence per address, then 429 with Retry-After', async (t) => {
  const srv = await startServer(t, { set: { 'limits.lookups_per_minute': 6 } });
  const roomId = newRoomId();
  await party(srv, 1, { roomId });
  const from = (localAddress) => ({ localAddress });
  const shortId = (await get(srv, `/api/short-id/${enc(roomId)}`, from('127.0.0.1'))).json().shortId;
  assert.equal((await get(srv, `/api/room/${shortId}`, from('127.0.0.1'))).status, 200);
  assert.equal((await get(srv, `/room/${shortId}`, from('127.0.0.1'))).status, 302);
  assert.equal((await get(srv, `/api/rooms/${enc(roomId)}/presence`, from('127.0.0.1'))).status, 200);
  assert.equal((await get(srv, '/api/room/nosuchid', from('127.0.0.1'))).status, 404, 'a miss costs a lookup too');
  assert.equal((await get(srv, '/room/nosuchid', from('127.0.0.1'))).status, 404);
  for (const path of [`/api/room/${shortId}`, `/room/${shortId}`, `/api/rooms/${enc(roomId)}/presence`, `/api/short-id/${enc(roomId)}`]) {
    const res = await get(srv, path, from('127.0.0.1'));
    assert.equal(res.status, 429, `${path} over the limit`);
    assert.equal(res.headers['retry-after'], '10', `${path} Retry-After`);
    assert.equal(res.headers['access-control-allow-origin'], '*', `${path} keeps its CORS headers`);
  }
  assert.equal((await get(srv, `/api/room/${shortId}`, from('127.0.0.2'))).status, 200, 'the limit is per address');
  assert.equal((await get(srv, '/status', from('127.0.0.1'))).status, 200, '/status is not a lookup');
  const m = await metrics(srv);
  assert.equal(metricValue(m, 'tandem_http_requests_total', { handler: 'room_lookup', code: '429' }), 1);
  assert.equal(metricValue(m, 'tandem_http_requests_total', { handler: 'redirect', code: '429' }), 1);
});

test('http.max_conns_per_ip / http.max_connections: open HTTP connections are bounded per address (429) and per node (503); WebSockets do not count', async (t) => {
  // Scrapes go to the internal port, which is not counted: every count below is exact, and each
  // step waits until the node has seen the connection before the next one comes.
  const srv = await startServer(t, { internalPort: true, set: { 'http.max_conns_per_ip': 2, 'http.max_connections': 3 } });
  const httpConnections = (n, message) =>
    eventually(async () => metricValue(await metrics(srv.internal), 'tandem_http_connections') === n, { message });
  const idle = [await rawConnect(srv, { localAddress: '127.0.0.1' }), await rawConnect(srv, { localAddress: '127.0.0.1' })];
  await httpConnections(2, 'the two idle connections counted');
  const over = await rawConnect(srv, { localAddress: '127.0.0.1' });
  await over.closed;
  assert.match(over.data, /^HTTP\/1\.1 429 /, 'the third connection from 127.0.0.1');
  // 127.0.0.2 has its own allowance, but the node holds three at most.
  const other = await rawConnect(srv, { localAddress: '127.0.0.2' });
  await httpConnections(3, 'the connection from 127.0.0.2 counted, the refused one not');
  const full = await rawConnect(srv, { localAddress: '127.0.0.3' });
  await full.closed;
  assert.match(full.data, /^HTTP\/1\.1 503 /, 'the fourth connection on the node');
  // Closing connections gives their places back; an upgraded connection gives its place back too.
  for (const c of [...idle, other]) c.socket.destroy();
  await httpConnections(0, 'places given back');
  const members = await party(srv, 4, { roomId: newRoomId() });
  assert.equal(members.length, 4, 'WebSockets beyond the HTTP bounds');
  const m = await metrics(srv.internal);
  assert.equal(metricValue(m, 'tandem_http_connections'), 0);
  assert.equal(metricValue(m, 'tandem_http_requests_total', { handler: 'transport', code: '429' }), 1);
  assert.equal(metricValue(m, 'tandem_http_requests_total', { handler: 'transport', code: '503' }), 1);
});

test('CORS on /api/*, /room/*, /status; OPTIONS 204/200 empty; HEAD works', async (t) => {
  const srv = await startServer(t);
  const roomId = newRoomId();
  await party(srv, 1, { roomId });
  const shortId = (await get(srv, `/api/short-id/${enc(roomId)}`)).json().shortId;
  for (const path of [`/api/rooms/${roomId}/presence`, `/api/short-id/${roomId}`, `/api/room/${shortId}`, `/room/${shortId}`, '/status']) {
    const opt = await httpRequest(srv, { method: 'OPTIONS', path, headers: { Origin: 'https://www.netflix.com', 'Access-Control-Request-Method': 'GET' } });
    assert.ok(opt.status === 204 || opt.status === 200, `OPTIONS ${path} answered ${opt.status}`);
    assert.equal(opt.body, '', `OPTIONS ${path} has a body`);
    assertCors(opt, `OPTIONS ${path}`);
    const head = await httpRequest(srv, { method: 'HEAD', path });
    const getRes = await get(srv, path);
    assert.equal(head.status, getRes.status, `HEAD ${path} ${head.status} vs GET ${getRes.status}`);
    assert.equal(head.body, '');
    assertCors(head, `HEAD ${path}`);
  }
  for (const path of ['/health', '/ready', '/metrics']) {
    const head = await httpRequest(srv, { method: 'HEAD', path });
    assert.equal(head.status, 200, `HEAD ${path}`);
    assert.equal(head.body, '');
  }
  const r404 = await get(srv, '/api/unknown');
  assert.equal(r404.status, 404);
  assertCors(r404, '/api/unknown 404');
  assert.equal((await get(srv, '/health')).status, 200);
});

test('methods other than GET, HEAD and OPTIONS get 405 on every path, without and with a request body', async (t) => {
  const srv = await startServer(t);
  const roomId = newRoomId();
  await party(srv, 1, { roomId });
  const shortId = (await get(srv, `/api/short-id/${enc(roomId)}`)).json().shortId;
  const paths = [`/api/rooms/${roomId}/presence`, `/api/short-id/${roomId}`, `/api/room/${shortId}`, `/room/${shortId}`, '/status',
    '/health', '/ready', '/metrics', '/nope', '/ws'];
  const wrong = [];
  for (const path of paths) {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const bare = await httpRequest(srv, { method, path, headers: { 'Content-Length': '0' } });
      if (bare.status !== 405) wrong.push(`${method} ${path} (no body) -> ${bare.status}`);
      const withBody = await httpRequest(srv, { method, path, headers: { 'Content-Type': 'application/json' }, body: '{}' });
      if (withBody.status !== 405) wrong.push(`${method} ${path} (2-byte body) -> ${withBody.status}`);
    }
  }
  assert.deepEqual(wrong, [], `not 405:\n${wrong.slice(0, 12).join('\n')}${wrong.length > 12 ? `\n… ${wrong.length - 12} more` : ''}`);
  assert.equal((await get(srv, '/health')).status, 200);
});

test('WebSocket upgrades: /ws and /ws?query accepted; /ws/ and other paths 404', async (t) => {
  const srv = await startServer(t);
  assert.equal(await Client.upgradeStatus(srv, { path: '/ws' }), null);
  const q = await Client.connect(srv, { path: '/ws?x=1&v=2.0' });
  await q.join({ roomId: newRoomId(), userId: newUserId() });
  for (const path of ['/ws/', '/', '/socket', '/ws/x', '/wss', '/api/ws']) {
    assert.equal(await Client.upgradeStatus(srv, { path }), 404, `upgrade on ${path}`);
  }
  assert.equal((await get(srv, '/health')).status, 200);
});

test('failed WebSocket handshakes give their slot back; refusals and HTTP answers are counted by reason and handler', async (t) => {
  const srv = await startServer(t, { set: { 'limits.max_conns_per_ip': 3 } });
  const head = (headers) => `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`;
  const bad = [
    head('Sec-WebSocket-Version: 13\r\n'), // no Sec-WebSocket-Key
    head('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n'), // wrong version
  ];
  // Twice the per-address cap of failed handshakes: each must give its slot back.
  for (let i = 0; i < 6; i++) {
    const { status } = await rawRequest(srv, bad[i % 2]);
    assert.ok(status >= 400 && status < 500, `bad handshake ${i} answered ${status}`);
  }
  const members = await party(srv, 3, { roomId: newRoomId() });
  assert.equal(members.length, 3, 'the address still has its 3 slots');
  assert.equal(await Client.upgradeStatus(srv, { path: '/ws' }), 429, 'the 4th connection is over the cap');
  assert.equal((await get(srv, '/status')).status, 200);
  await get(srv, '/nope');
  const m = await metrics(srv);
  assert.equal(metricValue(m, 'tandem_connections'), 3);
  assert.equal(metricValue(m, 'tandem_refused_upgrades_total', { reason: 'bad_handshake' }), 6);
  assert.equal(metricValue(m, 'tandem_refused_upgrades_total', { reason: 'per_address' }), 1);
  assert.equal(metricValue(m, 'tandem_http_requests_total', { handler: 'websocket', code: '101' }), 3);
  assert.equal(metricValue(m, 'tandem_http_requests_total', { handler: 'websocket', code: '429' }), 1);
  assert.equal(metricValue(m, 'tandem_http_requests_total', { handler: 'status', code: '200' }), 1);
  assert.equal(metricValue(m, 'tandem_http_requests_total', { handler: 'not_found', code: '404' }), 1);
  assert.ok(metricValue(m, 'tandem_http_requests_total', { handler: 'ready', code: '200' }) >= 1, 'the readiness polls');
  for (const member of members) member.terminate();
  await eventually(async () => metricValue(await metrics(srv), 'tandem_connections') === 0, { message: 'connections back to 0' });
  // Every slot came back: three new members fit again.
  const again = await party(srv, 3, { roomId: newRoomId() });
  assert.equal(again.length, 3);
});

test('GET /metrics: process, build and limit metrics', async (t) => {
  const srv = await startServer(t, { set: { 'server.max_connections': 1234 } });
  const m = await metrics(srv);
  assert.ok(metricValue(m, 'process_open_fds') >= 3, 'process_open_fds');
  assert.ok(metricValue(m, 'process_max_fds') >= metricValue(m, 'process_open_fds'), 'process_max_fds');
  assert.ok(metricValue(m, 'process_resident_memory_bytes') > 1e6, 'process_resident_memory_bytes');
  assert.ok(metricValue(m, 'process_cpu_seconds_total') >= 0, 'process_cpu_seconds_total');
  assert.equal(metricValue(m, 'tandem_build_info', { mode: 'embedded' }), 1);
  assert.equal(metricValue(m, 'tandem_max_connections'), 1234);
  assert.equal(metricValue(m, 'tandem_max_connections_per_address'), 256);
  assert.match(m.text, /^# TYPE process_cpu_seconds_total counter/m);
  assert.match(m.text, /^# TYPE tandem_refused_upgrades_total counter/m);
});

test('server.threads: the event loops a node runs, as named threads; 0 means one per CPU the process may use (taskset)', async (t) => {
  const threadsOf = (srv) => fs.readdirSync(`/proc/${srv.proc.pid}/task`).length;
  const threadNames = (srv) => fs.readdirSync(`/proc/${srv.proc.pid}/task`)
    .map((tid) => fs.readFileSync(`/proc/${srv.proc.pid}/task/${tid}/comm`, 'utf8').trim()).sort();
  const three = await startServer(t, { set: { 'server.threads': 3 } });
  assert.equal(metricValue(await metrics(three), 'tandem_event_loops'), 3);
  assert.match(three.log, /3 I\/O threads; server\.threads\)/);
  // Pinned to one CPU: one loop, whatever the machine has; the start-up line says why.
  const pinned = await startServer(t, { set: { 'server.threads': 0 }, launcher: ['taskset', '-c', '0'] });
  assert.equal(metricValue(await metrics(pinned), 'tandem_event_loops'), 1);
  assert.match(pinned.log, /1 I\/O thread; server\.threads = 0: 1 of \d+ CPUs: affinity mask 1, /);
  // The loops are threads: the same node with three loops runs two more, named for `top -H`.
  assert.equal(threadsOf(three) - threadsOf(pinned), 2);
  const names = threadNames(three);
  for (const name of ['loop-1', 'loop-2', 'sqlite-journal', 'pin-hash']) assert.ok(names.includes(name), `${name} in ${names}`);
  assert.ok(!threadNames(pinned).includes('loop-1'), 'one loop: the main thread only');
});
