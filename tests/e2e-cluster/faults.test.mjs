// Fault tests (issue 6): SIGKILL of a node, Redis restart, PostgreSQL outage, rolling restart.
// After each: every surviving client received every broadcast in order, the audit trail in
// PostgreSQL has every acknowledged event exactly once (by room and seq), no process crashed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '../e2e/lib/client.mjs';
import { get, metricValue, metrics } from '../e2e/lib/http.mjs';
import { eventually, roomId as newRoomId, sleep, userId as newUserId } from '../e2e/lib/util.mjs';
import { assertAuditExactlyOnce, startCluster } from './lib/cluster.mjs';
import { Member, spreadParty } from './lib/members.mjs';

const URL = 'https://www.netflix.com/watch/81';

// Room traffic until stop(): the host's heartbeat (not audited) and the guests' name changes
// (audited), so that the exactly-once check covers events committed by every node.
function traffic(hostSend, guests, everyMs = 150) {
  let i = 0;
  const timer = setInterval(() => {
    i++;
    hostSend({ type: 'HOST_HEARTBEAT', currentTime: 100 + i, isPlaying: true });
    for (const [k, g] of guests.entries()) g.send({ type: 'UPDATE_USERNAME', username: `guest ${k} #${i}` });
  }, everyMs);
  return () => clearInterval(timer);
}

function assertAllRunning(cluster) {
  for (const n of cluster.nodes) assert.ok(n.running, `node on port ${n.port} exited: ${JSON.stringify(n.exit)}\n${n.logTail(3000)}`);
}

async function rejoinedEverywhere(members, host, label) {
  // One more broadcast from the host reaches every member's current connection.
  const control = `sync-${label}`;
  await eventually(() => members.every((m) => m.client?.isOpen && m.client.roomState), { timeoutMs: 15000, message: `${label}: every member connected and joined` });
  host.send({ type: 'CUSTOM_EVENT', control });
  for (const m of members) {
    await eventually(() => m.client.log.some((f) => f.control === control), { timeoutMs: 5000, message: `${label}: ${m.name} receives the host's broadcast` });
  }
}

test('SIGKILL of a node mid-party: the others remove its members within node_ttl, elect a host, and the audit trail is complete', async (t) => {
  const cluster = await startCluster(t, { set: { 'rooms.host_grace': '1s', 'cluster.node_ttl': '3s', 'limits.msgs_per_sec': 1000, 'limits.msgs_burst': 1000 } });
  const roomId = newRoomId('kill');
  const members = await spreadParty(cluster.nodes, 6, { roomId });
  const [host] = members;
  host.send({ type: 'URL_CHANGE', url: URL, currentTime: 100 });
  for (const m of members) await m.next('URL_CHANGE');
  host.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 100 });
  for (const m of members) await m.next('PLAY_PAUSE');
  const onDead = members.filter((_, i) => i % 3 === 0);  // members 0 and 3 are on node 1
  const survivors = members.filter((_, i) => i % 3 !== 0);
  const stop = traffic((f) => host.send(f), survivors);
  await sleep(800);
  const victim = cluster.nodes[0];
  const killedAt = Date.now();
  victim.proc.kill('SIGKILL');
  await victim.exited;
  stop();
  for (const m of survivors) {
    for (const gone of onDead) {
      const left = await m.next({ type: 'USER_LEFT', userId: gone.userId }, 8000);
      assert.ok(left._at - killedAt <= 3000 + 1000, `${m.name}: USER_LEFT of ${gone.name} ${left._at - killedAt} ms after the kill (node_ttl 3 s)`);
    }
    const hc = await m.next('HOST_CHANGED', 4000);
    assert.equal(hc.hostUserId, members[1].userId, 'the earliest-joined survivor becomes host');
  }
  // The dead node's clients reconnect to another node and find their room.
  const back = await Client.connect(cluster.nodes[1], { name: 'm0-back' });
  const state = await back.join({ roomId, userId: host.userId, username: 'Member 0' });
  assert.equal(state.url, URL);
  assert.equal(state.isPlaying, true);
  assert.ok(state.currentTime > 100, `position ${state.currentTime}`);
  assert.equal(state.hostUserId, members[1].userId);
  assert.deepEqual(state.users.map((u) => u.userId), [...survivors.map((m) => m.userId), host.userId]);
  for (const m of survivors) await m.next({ type: 'USER_JOINED', userId: host.userId });
  for (const m of survivors) m.assertSeqOrder();
  // Every acknowledged event, including those the killed node committed, reaches PostgreSQL once
  // (its unfinished copy batch is claimed by another node after 2 × node_ttl).
  await cluster.auditDrained(30000);
  await eventually(() => {
    try {
      assertAuditExactlyOnce(assert, cluster, roomId, [...survivors, back]);
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 15000, message: 'audit trail complete' });
  const checked = assertAuditExactlyOnce(assert, cluster, roomId, [...survivors, back]);
  t.diagnostic(`audited broadcasts checked: ${checked}, lost: 0`);
  assertAllRunning({ nodes: cluster.nodes.slice(1) });
});

test('Redis restart mid-party: nodes report 503, reconnect, resynchronise; members end in the room with its state; audit complete', async (t) => {
  const cluster = await startCluster(t, { privateRedis: true, set: { 'rooms.host_grace': '5s', 'cluster.node_ttl': '3s', 'limits.msgs_per_sec': 1000, 'limits.msgs_burst': 1000 } });
  const roomId = newRoomId('redis');
  const nodes = () => cluster.nodes;
  const members = Array.from({ length: 6 }, (_, i) => new Member(nodes, { roomId, name: `m${i}`, username: `M${i}` }));
  for (const [i, m] of members.entries()) await m.connect(i);
  const [host, ...guests] = members;
  host.send({ type: 'URL_CHANGE', url: URL, currentTime: 100 });
  await eventually(() => members.every((m) => m.client.log.some((f) => f.type === 'URL_CHANGE')), { message: 'URL_CHANGE everywhere' });
  const stop = traffic((f) => host.send(f), guests);
  await sleep(800);
  await cluster.privateRedis.down();
  const notReady = await eventually(async () => {
    const res = await get(cluster.nodes[1], '/ready').catch(() => null);
    return res && res.status === 503 ? res : false;
  }, { timeoutMs: 5000, message: '/ready 503 while Redis is down' });
  assert.equal(notReady.status, 503);
  await sleep(1000);
  await cluster.privateRedis.up();
  for (const node of cluster.nodes) {
    await eventually(async () => (await get(node, '/ready')).status === 200, { timeoutMs: 15000, message: `node ${node.port} ready again` });
  }
  await sleep(1000);
  stop();
  await rejoinedEverywhere(members, host, 'after the Redis restart');
  host.send({ type: 'REQUEST_SYNC' });
  const sync = await host.client.next('SYNC_RESPONSE');
  assert.equal(sync.url, URL, 'the room kept its url through the Redis restart');
  for (const m of members) m.assertSeqOrder();
  assertAllRunning(cluster);
  await cluster.auditDrained(30000);
  const clients = members.flatMap((m) => m.sessions);
  await eventually(() => {
    try { assertAuditExactlyOnce(assert, cluster, roomId, clients); return true; } catch { return false; }
  }, { timeoutMs: 15000, message: 'audit trail complete' });
  const checked = assertAuditExactlyOnce(assert, cluster, roomId, clients);
  t.diagnostic(`reconnects: ${members.map((m) => m.reconnects).join(',')}; audited broadcasts checked: ${checked}, lost: 0`);
  for (const m of members) m.stop();
});

test('Redis loses its data while a room is idle: a re-join rebuilds it from PostgreSQL (url, position, host, guest control, PIN, seq); one ROOM_CREATED, no seq twice', async (t) => {
  const cluster = await startCluster(t, { nodes: 2, privateRedis: true, set: { 'rooms.host_grace': '60s', 'rooms.empty_ttl': '10m' } });
  const [n1, n2] = cluster.nodes;
  const roomId = newRoomId('lost');
  const pin = '2468';
  const url = 'https://www.netflix.com/watch/80057281?t=1';
  const a = await Client.connect(n1, { name: 'a' });
  await a.join({ roomId, userId: newUserId('a'), username: 'A', pin });
  const b = await Client.connect(n2, { name: 'b' });
  await b.join({ roomId, userId: newUserId('b'), username: 'B', pin });
  a.send({ type: 'URL_CHANGE', url, currentTime: 90 });
  a.send({ type: 'PLAY_PAUSE', control: 'pause', currentTime: 100 });
  a.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: true });
  await b.next('GUEST_CONTROL');
  // Both go without LEAVE: the room waits, empty, for its members (rooms.empty_ttl).
  a.terminate();
  b.terminate();
  const q = `'${roomId}'`;
  await eventually(() => cluster.sql(`SELECT member_count FROM rooms WHERE id = ${q}`)[0]?.[0] === '0',
    { timeoutMs: 10000, message: 'the empty room\'s snapshot in PostgreSQL' });
  await cluster.auditDrained();
  const before = cluster.auditEvents(roomId);
  const lastSeq = Math.max(...before.map((e) => e.seq));

  await cluster.privateRedis.restart();
  for (const node of cluster.nodes) {
    await eventually(async () => (await get(node, '/ready')).status === 200, { timeoutMs: 15000, message: `node ${node.port} ready again` });
  }
  assert.equal(cluster.redisCli('EXISTS', `${cluster.prefix}room:${roomId}`), '0', 'Redis lost the room');

  const intruder = await Client.connect(n2, { name: 'intruder' });
  intruder.sendJoin({ roomId, userId: newUserId('i') });
  await intruder.expectError('bad_pin');
  // The guest comes back first, on the other node: the absent host is still named (grace).
  const b2 = await Client.connect(n2, { name: 'b2' });
  const sb = await b2.join({ roomId, userId: b.userId, username: 'B', pin });
  assert.equal(sb.url, url);
  assert.equal(sb.isPlaying, false);
  assert.ok(Math.abs(sb.currentTime - 100) < 0.5, `restored position ${sb.currentTime}, expected 100`);
  assert.equal(sb.hostUserId, a.userId);
  assert.equal(sb.guestControlEnabled, true);
  assert.ok(sb.seq > lastSeq, `seq restarted: ${sb.seq} after ${lastSeq}`);
  const a2 = await Client.connect(n1, { name: 'a2' });
  const sa = await a2.join({ roomId, userId: a.userId, username: 'A', pin });
  assert.equal(sa.hostUserId, a.userId);
  assert.deepEqual(sa.users.map((u) => u.userId), [b.userId, a.userId]);
  await b2.next({ type: 'USER_JOINED', userId: a.userId });
  a2.send({ type: 'PLAY_PAUSE', control: 'play' });
  await b2.next({ type: 'PLAY_PAUSE', userId: a.userId });
  for (const m of [a2, b2]) m.assertSeqOrder();

  await cluster.auditDrained();
  const events = await eventually(() => {
    const all = cluster.auditEvents(roomId);
    return all.some((e) => e.type === 'PLAY_PAUSE' && e.seq > sa.seq) ? all : false;
  }, { timeoutMs: 10000, message: 'the PLAY_PAUSE after the rebuild in PostgreSQL' });
  assert.equal(events.filter((e) => e.type === 'ROOM_CREATED').length, 1, `one ROOM_CREATED: ${JSON.stringify(events.map((e) => `${e.type}@${e.seq}`))}`);
  const broadcastSeqs = events.filter((e) => !['ROOM_CREATED', 'PIN_REJECTED', 'ROOM_ARCHIVED'].includes(e.type)).map((e) => e.seq);
  assert.equal(new Set(broadcastSeqs).size, broadcastSeqs.length, `a seq used twice: ${JSON.stringify(events.map((e) => `${e.type}@${e.seq}`))}`);
  const m = await metrics(n2);
  assert.equal(metricValue(m, 'tandem_cluster_room_lookups_total', { result: 'restored' }), 1);
  assertAllRunning(cluster);
});

test('PostgreSQL unreachable for 30 s mid-party: serving continues, the backlog waits in Redis (metrics) and drains after', async (t) => {
  const cluster = await startCluster(t, { pgProxy: true, set: { 'rooms.host_grace': '1s', 'limits.msgs_per_sec': 1000, 'limits.msgs_burst': 1000 } });
  const roomId = newRoomId('pgdown');
  const members = await spreadParty(cluster.nodes, 4, { roomId });
  const [host, ...guests] = members;
  await cluster.pgProxy.cut();
  const cutAt = Date.now();
  let plays = 0;
  while (Date.now() - cutAt < 30000) {
    host.send({ type: 'PLAY_PAUSE', control: plays % 2 ? 'pause' : 'play', currentTime: plays });
    for (const m of members) await m.next('PLAY_PAUSE', 3000);
    guests[plays % guests.length].send({ type: 'UPDATE_USERNAME', username: `name ${plays}` });
    for (const m of members) await m.next('USERNAME_UPDATED', 3000);
    plays++;
    await sleep(250);
  }
  const backlog = metricValue(await metrics(cluster.nodes[0]), 'tandem_audit_backlog');
  assert.ok(backlog >= plays * 2, `tandem_audit_backlog ${backlog} during the outage (${plays * 2} events waiting)`);
  assert.equal((await get(cluster.nodes[0], '/ready')).status, 200, 'a PostgreSQL outage does not make the node unready');
  await cluster.pgProxy.restore();
  await cluster.auditDrained(30000);
  for (const m of members) m.assertSeqOrder();
  const checked = assertAuditExactlyOnce(assert, cluster, roomId, members);
  assert.ok(checked >= plays * 2, `checked ${checked}`);
  t.diagnostic(`events during the outage: ${plays * 2}; backlog seen: ${backlog}; lost: 0`);
  assertAllRunning(cluster);
});

test('rolling restart (SIGTERM one node at a time): clients move to the other nodes, the room keeps host, url and position', async (t) => {
  const cluster = await startCluster(t, { set: { 'rooms.host_grace': '5s', 'server.drain_timeout': '5s', 'limits.msgs_per_sec': 1000, 'limits.msgs_burst': 1000 } });
  const roomId = newRoomId('rolling');
  const nodes = () => cluster.nodes;
  const members = Array.from({ length: 6 }, (_, i) => new Member(nodes, { roomId, name: `m${i}`, username: `M${i}` }));
  for (const [i, m] of members.entries()) await m.connect(i);
  const [host, ...guests] = members;
  host.send({ type: 'URL_CHANGE', url: URL, currentTime: 100 });
  host.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 100 });
  await eventually(() => members.every((m) => m.client.log.some((f) => f.type === 'PLAY_PAUSE')), { message: 'PLAY_PAUSE everywhere' });
  const stop = traffic((f) => host.send(f), guests, 250);
  for (let i = 0; i < cluster.nodes.length; i++) {
    const exit = await cluster.restartNode(i);
    assert.equal(exit.code, 0, `node ${i + 1} exit after SIGTERM: ${JSON.stringify(exit)}`);
    await rejoinedEverywhere(members, host, `after restarting node ${i + 1}`);
  }
  stop();
  host.send({ type: 'REQUEST_SYNC' });
  const sync = await host.client.next('SYNC_RESPONSE');
  assert.equal(sync.url, URL);
  assert.equal(sync.isPlaying, true);
  assert.ok(sync.currentTime > 100, `position ${sync.currentTime}`);
  const state = host.client.roomState;
  assert.equal(state.hostUserId, host.userId, 'the host kept its role through the restarts');
  for (const m of members) m.assertSeqOrder();
  await cluster.auditDrained(30000);
  const clients = members.flatMap((m) => m.sessions);
  const checked = assertAuditExactlyOnce(assert, cluster, roomId, clients);
  t.diagnostic(`reconnects: ${members.map((m) => m.reconnects).join(',')}; audited broadcasts checked: ${checked}, lost: 0`);
  assertAllRunning(cluster);
  for (const m of members) m.stop();
});

test('a Redis that stops answering (SIGSTOP) is treated as lost after redis.connect_timeout, and found again after SIGCONT', async (t) => {
  const connectTimeoutMs = 1000;
  const cluster = await startCluster(t, { privateRedis: true, set: { 'redis.connect_timeout': '1s', 'rooms.host_grace': '5s' } });
  const roomId = newRoomId('frozen');
  const members = await spreadParty(cluster.nodes, 3, { roomId });
  cluster.privateRedis.proc.kill('SIGSTOP');
  try {
    // Before the node gives Redis up, a frame that needs Redis and an HTTP request that needs it
    // wait; neither holds up a PING (nor /status, served from the snapshot). Bound: half the
    // time a waiting frame can wait (redis.connect_timeout), far above the 100 ms target.
    const waiting = members[0];
    waiting.send({ type: 'PLAY_PAUSE', control: 'pause' });
    const shortId = get(cluster.nodes[0], `/api/short-id/${encodeURIComponent(roomId)}`);
    const pingAt = Date.now();
    waiting.send({ type: 'PING', timestamp: pingAt });
    await waiting.next('PONG', connectTimeoutMs / 2);
    const pongMs = Date.now() - pingAt;
    const statusAt = Date.now();
    assert.equal((await get(cluster.nodes[0], '/status')).status, 200);
    const statusMs = Date.now() - statusAt;
    assert.ok(pongMs < connectTimeoutMs / 2 && statusMs < connectTimeoutMs / 2,
      `PONG after ${pongMs} ms, /status after ${statusMs} ms while Redis is frozen`);
    t.diagnostic(`while Redis is frozen: PONG after ${pongMs} ms, /status after ${statusMs} ms`);
    assert.equal((await shortId).status, 503);  // answered once the node gives Redis up
    for (const node of cluster.nodes) {
      await eventually(async () => (await get(node, '/ready')).status === 503, { timeoutMs: 6000, message: `/ready 503 on ${node.port} with a frozen Redis` });
    }
    members[1].send({ type: 'PLAY_PAUSE', control: 'play' });
    await members[1].expectError('server_busy', 3000);
  } finally {
    cluster.privateRedis.proc.kill('SIGCONT');
  }
  for (const node of cluster.nodes) {
    await eventually(async () => (await get(node, '/ready')).status === 200, { timeoutMs: 15000, message: `node ${node.port} ready again` });
  }
  // The members may have been closed 1012 (their room moved on while the nodes were cut off);
  // whoever is still connected still works, and every node still serves the room.
  const fresh = await Client.connect(cluster.nodes[2]);
  const state = await fresh.join({ roomId, userId: members[0].userId });
  assert.equal(state.hostUserId, members[0].userId);
  for (const m of members) m.assertSeqOrder();
  assertAllRunning(cluster);
});
