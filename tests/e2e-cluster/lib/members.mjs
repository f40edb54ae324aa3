// Clients placed on chosen nodes of a cluster, and a member that reconnects like the extension.
import assert from 'node:assert/strict';
import { Client } from '../../e2e/lib/client.mjs';
import { sleep, userId as newUserId } from '../../e2e/lib/util.mjs';

// Connects `count` members into `roomId`, member i on node i % nodes.length (or `placement[i]`),
// and consumes the USER_JOINED frames so that every member has seen every later member join.
export async function spreadParty(nodes, count, { roomId, placement, prefix = 'm', pin } = {}) {
  const members = [];
  for (let i = 0; i < count; i++) {
    const node = nodes[placement ? placement[i] : i % nodes.length];
    const c = await Client.connect(node, { name: `${prefix}${i}@${node.port}` });
    c.node = node;
    await c.join({ roomId, userId: newUserId(`${prefix}${i}_`), username: `Member ${i}`, pin });
    members.push(c);
  }
  for (let i = 0; i < count; i++) {
    for (let j = i + 1; j < count; j++) await members[i].next({ type: 'USER_JOINED', userId: members[j].userId }, 5000);
  }
  return members;
}

// A member that behaves like the v2.0 extension on an unintended close: reconnects (to the next
// node of `nodes`, as a load balancer would) after a short backoff and re-sends its JOIN with
// the same userId. Each connection is a `session` (a Client) whose log is checked on its own.
export class Member {
  constructor(nodes, { roomId, userId, username, name }) {
    this.nodes = nodes;
    this.roomId = roomId;
    this.userId = userId ?? newUserId('rm');
    this.username = username ?? name;
    this.name = name;
    this.sessions = [];
    this.nodeIndex = 0;
    this.stopped = false;
    this.reconnects = 0;
  }

  get client() {
    return this.sessions[this.sessions.length - 1];
  }

  async connect(nodeIndex = this.nodeIndex) {
    this.nodeIndex = nodeIndex;
    for (let attempt = 0; ; attempt++) {
      const node = this.nodes()[this.nodeIndex % this.nodes().length];
      try {
        const c = await Client.connect(node, { name: `${this.name}#${this.sessions.length}@${node.port}` });
        const state = await c.join({ roomId: this.roomId, userId: this.userId, username: this.username }, 5000);
        this.sessions.push(c);
        c.closed.then((info) => this.onClose(info));
        return state;
      } catch (err) {
        if (attempt >= 40) throw new Error(`${this.name}: cannot rejoin: ${err.message}`);
        this.nodeIndex++;
        await sleep(Math.min(200 * (attempt + 1), 1000));
      }
    }
  }

  async onClose(info) {
    if (this.stopped || info.code === 1000 || info.code === 4001) return;
    this.reconnects++;
    this.nodeIndex++;
    await sleep(150);
    if (!this.stopped) {
      this.reconnecting = this.connect(this.nodeIndex).catch((err) => { this.error = err; });
      await this.reconnecting;
    }
  }

  send(frame) {
    if (this.client?.isOpen) this.client.send(frame);
  }

  stop() {
    this.stopped = true;
    for (const s of this.sessions) s.terminate();
  }

  // Every session saw a gapless seq order from its ROOM_STATE on.
  assertSeqOrder() {
    assert.equal(this.error, undefined, `${this.name}: ${this.error?.message}`);
    for (const s of this.sessions) s.assertSeqOrder();
  }
}
