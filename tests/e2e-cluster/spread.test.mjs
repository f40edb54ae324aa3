// docs/protocol.md §2-§7 with the members of each room on three different nodes (issue 6: "members of
// one room connected to different nodes see exactly what they would see on one node").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, assertSameBroadcasts } from '../e2e/lib/client.mjs';
import { get } from '../e2e/lib/http.mjs';
import { eventually, roomId as newRoomId, sleep, userId as newUserId } from '../e2e/lib/util.mjs';
import { assertAuditExactlyOnce, startCluster } from './lib/cluster.mjs';
import { spreadParty } from './lib/members.mjs';

const FAST = { 'rooms.host_grace': '1s', 'rooms.ready_timeout': '1s' };
const serverPlay = (f) => f.type === 'PLAY_PAUSE' && f.userId === 'server';

test('one room over 3 nodes: one seq order without gaps or duplicates for every member under concurrent senders', async (t) => {
  const cluster = await startCluster(t, { set: { ...FAST, 'limits.msgs_per_sec': 5000, 'limits.msgs_burst': 5000 } });
  const roomId = newRoomId('spread');
  const members = await spreadParty(cluster.nodes, 6, { roomId });
  const [host] = members;
  const states = members.map((m) => m.roomState);
  assert.deepEqual(states.map((s) => s.seq), [1, 2, 3, 4, 5, 6]);
  assert.ok(states.every((s) => s.hostUserId === host.userId), 'every member sees the same host');
  assert.deepEqual(states[5].users.map((u) => u.userId), members.map((m) => m.userId), 'users in join order, from every node');
  assert.equal(new Set(states.map((s) => s.nodeId)).size, 3, 'the members are on three nodes');

  host.send({ type: 'TOGGLE_GUEST_CONTROL', enabled: true });
  for (const m of members) await m.next('GUEST_CONTROL');
  const perSender = 40;
  for (let i = 0; i < perSender; i++) {
    members.forEach((m, k) => {
      if (i % 4 === 0) m.send({ type: 'PLAY_PAUSE', control: i % 8 ? 'play' : 'pause', currentTime: i + 1 });
      else if (i % 4 === 1) m.send({ type: 'HOST_HEARTBEAT', currentTime: i + 1, isPlaying: true });
      else m.send({ type: 'CUSTOM_EVENT', k, i });
    });
  }
  const total = perSender * members.length;
  const isStorm = (f) => ['PLAY_PAUSE', 'HOST_HEARTBEAT', 'CUSTOM_EVENT'].includes(f.type);
  for (const m of members) {
    await eventually(() => m.log.filter(isStorm).length >= total, { timeoutMs: 20000, message: `${m.name}: ${total} broadcasts` });
    assert.equal(m.log.filter(isStorm).length, total, `${m.name} got ${m.log.filter(isStorm).length}`);
    await m.none('ERROR', 10);
  }
  for (const m of members) m.assertSeqOrder();
  assertSameBroadcasts(members);
  // Per-connection order: each sender's CUSTOM_EVENTs arrive in its sending order everywhere.
  for (const m of members) {
    for (let k = 0; k < members.length; k++) {
      const is = m.log.filter((f) => f.type === 'CUSTOM_EVENT' && f.k === k).map((f) => f.i);
      assert.deepEqual(is, [...is].sort((a, b) => a - b), `${m.name}: CUSTOM_EVENTs of sender ${k} out of order`);
    }
  }
  await cluster.auditDrained();
  const checked = assertAuditExactlyOnce(assert, cluster, roomId, members);
  assert.ok(checked > 50, `only ${checked} audited broadcasts checked`);
});

test('targeted frames cross nodes: OFFER/ANSWER/ICE_CANDIDATE reach only their target; SYNC_RESPONSE from any node', async (t) => {
  const cluster = await startCluster(t, { set: FAST });
  const roomId = newRoomId('signal');
  const [a, b, c] = await spreadParty(cluster.nodes, 3, { roomId });
  const n = await Client.connect(cluster.nodes[2], { name: 'newcomer@n3' });
  await n.join({ roomId, userId: newUserId('n'), username: 'New' });
  for (const m of [a, b, c]) await m.next({ type: 'USER_JOINED', userId: n.userId });
  a.send({ type: 'OFFER', to: n.userId, offer: { type: 'offer', sdp: 'v=0 a' }, userId: 'forged' });
  b.send({ type: 'OFFER', to: n.userId, offer: { type: 'offer', sdp: 'v=0 b' } });
  const offers = [await n.next('OFFER'), await n.next('OFFER')];
  assert.deepEqual(offers.map((o) => o.from).sort(), [a.userId, b.userId].sort());
  for (const o of offers) {
    assert.equal(o.userId, o.from);
    assert.equal(o.seq, undefined, 'targeted frames carry no seq');
    assert.match(o.nodeId, /^n[12]~/);
  }
  n.send({ type: 'ANSWER', to: a.userId, answer: { type: 'answer', sdp: 'v=0' } });
  n.send({ type: 'ICE_CANDIDATE', to: b.userId, candidate: { candidate: 'c' } });
  assert.equal((await a.next('ANSWER')).from, n.userId);
  assert.equal((await b.next('ICE_CANDIDATE')).from, n.userId);
  await c.none((f) => ['OFFER', 'ANSWER', 'ICE_CANDIDATE'].includes(f.type), 300);
  a.send({ type: 'OFFER', to: 'user_nobody', offer: {} });
  await a.none('ERROR', 200);

  a.send({ type: 'PLAY_PAUSE', control: 'play', currentTime: 30 });
  for (const m of [a, b, c, n]) await m.next('PLAY_PAUSE');
  await sleep(300);
  c.send({ type: 'REQUEST_SYNC' });
  const sync = await c.next('SYNC_RESPONSE');
  assert.equal(sync.isPlaying, true);
  assert.ok(sync.currentTime >= 30.2 && sync.currentTime < 31.5, `extrapolated position ${sync.currentTime}`);
  for (const m of [a, b, c, n]) m.assertSeqOrder();
});

test('READY gate counts the members of every node and is released exactly once (quorum and timeout)', async (t) => {
  const cluster = await startCluster(t, { set: { 'rooms.ready_timeout': '1500ms', 'rooms.host_grace': '1s' } });
  const roomId = newRoomId('gate');
  const members = await spreadParty(cluster.nodes, 5, { roomId });
  const [host, b, c, d] = members;
  // expected 5, quorum ceil(3) = 3: the seeker + two READYs from two other nodes.
  host.send({ type: 'SEEK', currentTime: 42, isPlaying: true });
  for (const m of members) await m.next('SEEK_PAUSE');
  b.send({ type: 'READY' });
  await host.none(serverPlay, 400);
  c.send({ type: 'READY' });
  for (const m of members) {
    const f = await m.next(serverPlay, 1000);
    assert.equal(f.currentTime, 42);
  }
  d.send({ type: 'READY' });
  // Timeout: nobody answers; the nodes race on the deadline, one release reaches everybody.
  host.send({ type: 'SEEK', currentTime: 50, isPlaying: true });
  for (const m of members) await m.next('SEEK_PAUSE');
  for (const m of members) assert.equal((await m.next(serverPlay, 3000)).currentTime, 50);
  await sleep(800);
  for (const m of members) {
    assert.equal(m.log.filter(serverPlay).length, 2, `${m.name}: ${m.log.filter(serverPlay).length} releases for 2 gates`);
    m.assertSeqOrder();
  }
  await cluster.auditDrained();
  const released = cluster.auditEvents(roomId).filter((e) => e.type === 'GATE_RELEASED');
  assert.equal(released.length, 2, `GATE_RELEASED events: ${JSON.stringify(released)}`);
  assertAuditExactlyOnce(assert, cluster, roomId, members);
});

test('host disconnect on one node: USER_LEFT at once everywhere, HOST_CHANGED after host_grace; a re-join on another node within the grace keeps the role', async (t) => {
  const cluster = await startCluster(t, { set: { 'rooms.host_grace': '1500ms' } });
  const roomId = newRoomId('grace');
  const [a, b, c] = await spreadParty(cluster.nodes, 3, { roomId });
  const goneAt = Date.now();
  a.terminate();
  for (const m of [b, c]) {
    const left = await m.next('USER_LEFT', 2000);
    assert.equal(left.userId, a.userId);
    assert.ok(left._at - goneAt < 1000, `USER_LEFT ${left._at - goneAt} ms after the disconnect`);
  }
  await b.none('HOST_CHANGED', 500);
  const back = await Client.connect(cluster.nodes[2], { name: 'a-back@n3' });
  const state = await back.join({ roomId, userId: a.userId, username: 'Member 0' });
  assert.equal(state.hostUserId, a.userId, 'the host re-joined within the grace keeps the role');
  await sleep(1800);
  await b.none('HOST_CHANGED', 10);
  // Now the host leaves for good: after the grace the earliest member (b, on node 2) is host.
  back.terminate();
  for (const m of [b, c]) await m.next('USER_LEFT', 2000);
  for (const m of [b, c]) {
    const hc = await m.next('HOST_CHANGED', 4000);
    assert.equal(hc.hostUserId, b.userId);
  }
  b.send({ type: 'PLAY_PAUSE', control: 'play' });
  await c.next({ type: 'PLAY_PAUSE', userId: b.userId });
  for (const m of [b, c]) m.assertSeqOrder();
  await cluster.auditDrained();
  assert.equal(cluster.auditEvents(roomId).filter((e) => e.type === 'HOST_CHANGED').length, 1);
});

test('/status and presence cover the whole cluster; caller mode matches members on any node', async (t) => {
  const cluster = await startCluster(t, { set: FAST });
  const roomId = newRoomId('status');
  const other = newRoomId('other');
  const [a, b] = [await Client.connect(cluster.nodes[0], { localAddress: '127.0.0.2' }), await Client.connect(cluster.nodes[1], { localAddress: '127.0.0.3' })];
  await a.join({ roomId, userId: newUserId('a'), username: 'Ann' });
  await b.join({ roomId, userId: newUserId('b'), username: 'Bob' });
  const x = await Client.connect(cluster.nodes[2], { localAddress: '127.0.0.4' });
  await x.join({ roomId: other, userId: newUserId('x'), username: 'Secret' });
  for (const node of cluster.nodes) {
    const presence = (await get(node, `/api/rooms/${encodeURIComponent(roomId)}/presence`)).json();
    assert.deepEqual(presence, { roomId, count: 2 }, `presence on node ${node.port}`);
  }
  // Caller mode on node 3 for the address of a member connected to node 1.
  const body = await eventually(async () => {
    const res = (await get(cluster.nodes[2], '/status', { localAddress: '127.0.0.2' })).json();
    const room = res.rooms.find((r) => r.roomId === roomId);
    return room && room.connectionCount === 2 ? res : false;
  }, { timeoutMs: 5000, message: '/status on node 3 listing the room of a node-1 member' });
  assert.deepEqual(body.rooms.map((r) => r.roomId), [roomId], 'caller mode shows only the caller\'s rooms');
  assert.deepEqual(body.rooms[0].users.map((u) => u.username), ['Ann', 'Bob']);
  assert.equal(body.rooms[0].hostUserId, a.userId);
  assert.equal(body.localConnections, 1, 'localConnections counts this node');
  assert.equal(body.localRooms, 1);
  b.send({ type: 'LEAVE' });
  await b.waitClose();
  await eventually(async () => (await get(cluster.nodes[1], `/api/rooms/${encodeURIComponent(roomId)}/presence`)).json().count === 1,
    { timeoutMs: 2000, message: 'presence 1 after a LEAVE' });
});

test('short ids are cluster-wide: minted on one node, the same id on every node, resolved anywhere', async (t) => {
  const cluster = await startCluster(t, { set: { ...FAST, 'http.public_base_url': 'https://tandem.example' } });
  const roomId = 'watch: party/1';
  const ids = [];
  for (const node of cluster.nodes) ids.push((await get(node, `/api/short-id/${encodeURIComponent(roomId)}`)).json());
  assert.ok(ids.every((r) => r.shortId === ids[0].shortId), `short ids differ: ${JSON.stringify(ids)}`);
  assert.match(ids[0].shortId, /^[a-z0-9]{8}$/);
  assert.equal(ids[0].shortUrl, `https://tandem.example/room/${ids[0].shortId}`);
  for (const node of cluster.nodes) {
    assert.deepEqual((await get(node, `/api/room/${ids[0].shortId}`)).json(), { roomId, shortId: ids[0].shortId });
  }
  const redirect = await get(cluster.nodes[1], `/room/${ids[0].shortId}/1234`);
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.location, `https://www.netflix.com/?tandemRoom=${encodeURIComponent(roomId)}&pin=1234`);
  assert.equal((await get(cluster.nodes[2], '/api/room/zzzzzzzz')).status, 404);
});

test('room creation bounds hold per node in cluster mode: limits.rooms_per_ip_minute (too_many_rooms) and limits.max_rooms (server_busy); rooms on other nodes are joinable', async (t) => {
  const cluster = await startCluster(t, { nodes: 2, set: { 'limits.rooms_per_ip_minute': 2, 'limits.max_rooms': 3 } });
  const [n1, n2] = cluster.nodes;
  const prefix = newRoomId('bound');
  const joinNew = async (node, roomId, localAddress) => {
    const c = await Client.connect(node, { localAddress });
    c.sendJoin({ roomId, userId: newUserId() });
    const f = await c.next((x) => x.type === 'ROOM_STATE' || x.type === 'ERROR');
    return { c, f };
  };
  const a0 = await joinNew(n1, `${prefix}_a0`, '127.0.0.1');
  const a1 = await joinNew(n1, `${prefix}_a1`, '127.0.0.1');
  assert.deepEqual([a0.f.type, a1.f.type], ['ROOM_STATE', 'ROOM_STATE']);
  const a2 = await joinNew(n1, `${prefix}_a2`, '127.0.0.1');
  assert.equal(a2.f.code, 'too_many_rooms');
  // The refused room was not created anywhere: on the other node it is created afresh.
  const elsewhere = await joinNew(n2, `${prefix}_a2`, '127.0.0.1');
  assert.equal(elsewhere.f.type, 'ROOM_STATE');
  assert.equal(elsewhere.f.seq, 1);
  // n1 holds 2 rooms; a third address-fresh room fills it, the next gets server_busy.
  assert.equal((await joinNew(n1, `${prefix}_b0`, '127.0.0.2')).f.type, 'ROOM_STATE');
  assert.equal((await joinNew(n1, `${prefix}_b1`, '127.0.0.2')).f.code, 'server_busy');
  // Joining an existing room (created on n2) is never refused for these bounds.
  const visitor = await joinNew(n1, `${prefix}_a2`, '127.0.0.1');
  assert.equal(visitor.f.type, 'ROOM_STATE');
  assert.equal(visitor.f.users.length, 2);
});

test('security.pin_secret in cluster mode: a PIN set on one node is verified on another with the same secret', async (t) => {
  const cluster = await startCluster(t, { nodes: 2, env: { TANDEM_SECURITY_PIN_SECRET: 'cluster-wide-secret' } });
  const [n1, n2] = cluster.nodes;
  const roomId = newRoomId('pepper');
  const host = await Client.connect(n1);
  await host.join({ roomId, userId: newUserId('h'), pin: '8642' });
  const guest = await Client.connect(n2);
  guest.sendJoin({ roomId, userId: newUserId('g'), pin: '1111' });
  assert.equal((await guest.next('ERROR')).code, 'bad_pin');
  const state = await guest.join({ roomId, userId: newUserId('g'), pin: '8642' });
  assert.equal(state.users.length, 2);
  assert.notEqual(state.nodeId.split('~')[0], host.roomState.nodeId.split('~')[0], 'the members are on two nodes');
});
