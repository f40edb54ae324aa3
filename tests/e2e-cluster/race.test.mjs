// Concurrency across nodes (issue 6): racing room creation, racing gate releases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '../e2e/lib/client.mjs';
import { roomId as newRoomId, sleep, userId as newUserId } from '../e2e/lib/util.mjs';
import { startCluster } from './lib/cluster.mjs';
import { spreadParty } from './lib/members.mjs';

const serverPlay = (f) => f.type === 'PLAY_PAUSE' && f.userId === 'server';

test('50 clients racing to create the same room on 3 nodes: one creator, one host, everybody sees the same host', async (t) => {
  const cluster = await startCluster(t, { set: { 'rooms.host_grace': '1s', 'limits.pin_attempts_per_ip_minute': 1000 } });
  for (let round = 0; round < 3; round++) {
    const roomId = newRoomId(`race${round}`);
    const clients = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      Client.connect(cluster.nodes[i % 3], { name: `r${round}c${i}` })));
    // All JOINs leave at once; each node commits them concurrently.
    for (const [i, c] of clients.entries()) c.sendJoin({ roomId, userId: newUserId(`c${i}_`), username: `C${i}`, pin: i % 2 ? '1234' : null });
    const states = await Promise.all(clients.map((c) => c.next((f) => f.type === 'ROOM_STATE' || f.type === 'ERROR', 10000)));
    const joined = states.filter((s) => s.type === 'ROOM_STATE');
    const hosts = new Set(joined.map((s) => s.hostUserId));
    assert.equal(hosts.size, 1, `hosts seen: ${[...hosts].join(', ')}`);
    const creator = joined.find((s) => s.seq === 1);
    assert.ok(creator, 'one JOIN created the room (seq 1)');
    assert.equal(joined.filter((s) => s.seq === 1).length, 1, 'exactly one creator');
    assert.equal(creator.hostUserId, [...hosts][0]);
    // The creator's PIN decides: JOINs with another PIN are refused, the others are seated.
    const creatorIndex = clients.findIndex((c) => c.userId === creator.users[0].userId);
    const creatorPin = creatorIndex % 2 ? '1234' : null;
    for (const [i, s] of states.entries()) {
      const samePin = (i % 2 ? '1234' : null) === creatorPin;
      if (creatorPin === null || samePin) assert.equal(s.type, 'ROOM_STATE', `client ${i}: ${JSON.stringify(s)}`);
      else assert.equal(s.code, 'bad_pin', `client ${i}: ${JSON.stringify(s)}`);
    }
    const seqs = joined.map((s) => s.seq).sort((a, b) => a - b);
    assert.deepEqual(seqs, seqs.map((_, k) => k + 1), 'every seat took the next seq, no two the same');
    await cluster.auditDrained();
    const events = cluster.auditEvents(roomId);
    assert.equal(events.filter((e) => e.type === 'ROOM_CREATED').length, 1);
    assert.equal(events.filter((e) => e.type === 'USER_JOINED').length, joined.length);
    for (const c of clients) c.terminate();
  }
});

test('3 nodes racing to release one READY gate release it once (quorum race and timeout race), 10 gates in a row', async (t) => {
  const cluster = await startCluster(t, { set: { 'rooms.ready_timeout': '600ms', 'rooms.host_grace': '1s' } });
  const roomId = newRoomId('gaterace');
  // Seeker on node 1, one member on each of the other nodes: quorum ceil(0.6·3) = 2, so either
  // READY releases the gate; both are sent at the same moment from different nodes.
  const members = await spreadParty(cluster.nodes, 3, { roomId });
  const [host, b, c] = members;
  const gates = 10;
  for (let g = 0; g < gates; g++) {
    host.send({ type: 'SEEK', currentTime: 10 + g, isPlaying: true });
    for (const m of members) await m.next('SEEK_PAUSE');
    if (g % 2 === 0) {
      b.send({ type: 'READY' });
      c.send({ type: 'READY' });
    } // odd gates: nobody answers, the three nodes race on the deadline
    for (const m of members) assert.equal((await m.next(serverPlay, 3000)).currentTime, 10 + g);
  }
  await sleep(1000);
  for (const m of members) {
    assert.equal(m.log.filter(serverPlay).length, gates, `${m.name} saw ${m.log.filter(serverPlay).length} releases for ${gates} gates`);
    m.assertSeqOrder();
  }
  await cluster.auditDrained();
  const released = cluster.auditEvents(roomId).filter((e) => e.type === 'GATE_RELEASED');
  assert.equal(released.length, gates);
});
