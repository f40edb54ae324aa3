// A tandem cluster for tests: N `tandem serve` processes on loopback ports sharing the test Redis
// (a key prefix of their own) and the test PostgreSQL (a schema of their own, migrated with
// `tandem migrate`). Settings come from `scripts/services start` (source /tmp/tandem-services/env):
// a missing service FAILS the test, it never skips.
//
// Fault tests can ask for a private Redis (`privateRedis: true`: a redis-server of their own that
// they may restart without disturbing anybody else) and a PostgreSQL behind a TCP proxy
// (`pgProxy: true`: cut() refuses and drops every database connection, restore() lets them in
// again), so that outages stay inside the test.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import net from 'node:net';
import { TANDEM_BINARY, freePort, startServer } from '../../e2e/lib/server.mjs';
import { sleep } from '../../e2e/lib/util.mjs';

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: start the services and load their settings ` +
      '(scripts/services start && source /tmp/tandem-services/env); the cluster suite needs a real Redis and PostgreSQL');
  }
  return value;
}

export function services() {
  return {
    pg: {
      host: requireEnv('TANDEM_TEST_PG_HOST'),
      port: Number(requireEnv('TANDEM_TEST_PG_PORT')),
      user: requireEnv('TANDEM_TEST_PG_USER'),
      password: process.env.TANDEM_TEST_PG_PASSWORD ?? '',
      db: requireEnv('TANDEM_TEST_PG_DB'),
    },
    redis: {
      host: requireEnv('TANDEM_TEST_REDIS_HOST'),
      port: Number(requireEnv('TANDEM_TEST_REDIS_PORT')),
    },
  };
}

// psql against the test database; returns the rows as arrays of strings.
export function psql(pg, sql, { schema } = {}) {
  const env = { ...process.env, PGPASSWORD: pg.password, PGCONNECT_TIMEOUT: '5', PGOPTIONS: '-c client_min_messages=warning' };
  if (schema) env.PGOPTIONS += ` -c search_path=${schema}`;
  const out = execFileSync('psql', ['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-h', pg.host, '-p', String(pg.port),
    '-U', pg.user, '-d', pg.db, '-c', sql], { env, encoding: 'utf8' });
  return out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

export function redisCli(redis, ...args) {
  return execFileSync('redis-cli', ['-h', redis.host, '-p', String(redis.port), ...args.map(String)], { encoding: 'utf8' }).trim();
}

// A redis-server of the test's own, without persistence (a restart loses every key, like the
// services' Redis).
export class PrivateRedis {
  static async start() {
    const r = new PrivateRedis(await freePort());
    await r.up();
    return r;
  }

  constructor(port) {
    this.host = '127.0.0.1';
    this.port = port;
    this.proc = null;
  }

  async up() {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' });
    this.exited = new Promise((resolve) => this.proc.once('exit', resolve));
    for (let i = 0; i < 100; i++) {
      try {
        if (redisCli(this, 'PING') === 'PONG') return;
      } catch { /* not yet */ }
      await sleep(50);
    }
    throw new Error(`private redis-server on port ${this.port} did not start`);
  }

  async down() {
    if (!this.proc) return;
    this.proc.kill('SIGKILL');
    await this.exited;
    this.proc = null;
  }

  async restart(downMs = 0) {
    await this.down();
    if (downMs) await sleep(downMs);
    await this.up();
  }
}

// A TCP proxy in front of PostgreSQL that a test can cut.
export class PgProxy {
  static async start(target) {
    const p = new PgProxy(target, await freePort());
    await p.restore();
    return p;
  }

  constructor(target, port) {
    this.target = target;
    this.port = port;
    this.sockets = new Set();
    this.server = null;
  }

  restore() {
    if (this.server) return Promise.resolve();
    this.server = net.createServer((client) => {
      const upstream = net.connect({ host: this.target.host, port: this.target.port });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
  }

  // Every database connection drops and new ones are refused until restore().
  async cut() {
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise((resolve) => server.close(resolve));
  }
}

// What every test cluster sets (tests add their own timing, e.g. a short host grace).
const DEFAULTS = {
  'cluster.node_ttl': '3s',
  'audit.flush_interval': '100ms',
};

let clusterCounter = 0;

// startCluster(t, {nodes, set, env, privateRedis, pgProxy}) -> Cluster. Registers its cleanup
// (servers killed, Redis keys deleted, schema dropped) with t.after.
export async function startCluster(t, options = {}) {
  const { nodes = 3, set = {}, env = {}, privateRedis = false, pgProxy = false } = options;
  const svc = services();
  const tag = `${crypto.randomBytes(6).toString('hex')}${clusterCounter++}`;
  const schema = `t_cl_${tag}`;
  const prefix = `test:cl${tag}:`;
  psql(svc.pg, `CREATE SCHEMA ${schema}`);
  const cluster = new Cluster({ svc, schema, prefix, set: { ...DEFAULTS, ...set, 'redis.key_prefix': prefix }, env });
  t.after(() => cluster.cleanup());
  if (privateRedis) cluster.privateRedis = await PrivateRedis.start();
  if (pgProxy) cluster.pgProxy = await PgProxy.start(svc.pg);
  await cluster.migrate();
  const started = await Promise.all(Array.from({ length: nodes }, (_, i) => cluster.startNode(`n${i + 1}`)));
  cluster.nodes.push(...started);
  return cluster;
}

export class Cluster {
  constructor({ svc, schema, prefix, set, env }) {
    this.svc = svc;
    this.schema = schema;
    this.prefix = prefix;
    this.set = set;
    this.extraEnv = env;
    this.nodes = [];
    this.retired = [];
    this.privateRedis = null;
    this.pgProxy = null;
  }

  get redis() {
    return this.privateRedis ?? this.svc.redis;
  }

  env() {
    const pg = this.svc.pg;
    return {
      REDIS_HOST: this.redis.host,
      REDIS_PORT: String(this.redis.port),
      POSTGRES_HOST: pg.host,
      POSTGRES_PORT: String(this.pgProxy ? this.pgProxy.port : pg.port),
      POSTGRES_USER: pg.user,
      POSTGRES_PASSWORD: pg.password,
      POSTGRES_DB: pg.db,
      TANDEM_POSTGRES_CONNECT_TIMEOUT: '2s',
      PGOPTIONS: `-c search_path=${this.schema}`,
      ...this.extraEnv,
    };
  }

  // Asynchronous: the PostgreSQL proxy runs in this process.
  async migrate() {
    await promisify(execFile)(TANDEM_BINARY, ['migrate'], { env: { ...process.env, ...this.env() } });
  }

  // Starts one more node (not registered with t: the cluster's cleanup stops it).
  async startNode(nodeId, { set = {} } = {}) {
    return startServer(null, { set: { ...this.set, ...set }, env: this.env(), args: ['--node-id', nodeId] });
  }

  // Replaces node i by a fresh process with the same node id (SIGTERM first unless `kill`).
  async restartNode(i, { kill = false } = {}) {
    const old = this.nodes[i];
    const nodeId = old.args[old.args.indexOf('--node-id') + 1];
    const exit = kill ? (old.proc.kill('SIGKILL'), await old.exited) : await old.terminate();
    this.retired.push(old);
    this.nodes[i] = await this.startNode(nodeId);
    return exit;
  }

  sql(query) {
    return psql(this.svc.pg, query, { schema: this.schema });
  }

  redisCli(...args) {
    return redisCli(this.redis, ...args);
  }

  // Audit events of a room: [{type, userId, seq, nodeId, uid}], in insertion order.
  auditEvents(roomId) {
    const quoted = `'${roomId.replaceAll("'", "''")}'`;
    return this.sql(`SELECT event_type, coalesce(user_id, ''), seq, node_id, event_uid FROM room_events WHERE room_id = ${quoted} ORDER BY id`)
      .map(([type, userId, seq, nodeId, uid]) => ({ type, userId, seq: Number(seq), nodeId, uid }));
  }

  // Waits until the audit stream is empty (everything copied to PostgreSQL).
  async auditDrained(timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const len = Number(this.redisCli('XLEN', `${this.prefix}audit`));
      if (len === 0) return;
      if (Date.now() > deadline) throw new Error(`audit stream still holds ${len} entries after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  logs() {
    return [...this.nodes, ...this.retired].map((n) => `--- ${n.args[n.args.indexOf('--node-id') + 1]} (port ${n.port}) ---\n${n.logTail(6000)}`).join('\n');
  }

  async cleanup() {
    for (const n of [...this.nodes, ...this.retired]) await n.cleanup().catch(() => {});
    try {
      const keys = execFileSync('redis-cli', ['-h', this.redis.host, '-p', String(this.redis.port), '--scan', '--pattern', `${this.prefix}*`], { encoding: 'utf8' })
        .split('\n').filter(Boolean);
      for (let i = 0; i < keys.length; i += 200) this.redisCli('DEL', ...keys.slice(i, i + 200));
    } catch { /* Redis gone: nothing to clean */ }
    if (this.privateRedis) await this.privateRedis.down();
    if (this.pgProxy) await this.pgProxy.cut();
    try {
      psql(this.svc.pg, `DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
    } catch { /* keep going */ }
  }
}

// Frame type of a room broadcast -> the audit event it causes (HOST_HEARTBEAT and generic relays
// are not audited).
export function auditTypeOf(frame) {
  switch (frame.type) {
    case 'USER_JOINED': case 'USER_LEFT': case 'HOST_CHANGED': case 'GUEST_CONTROL': case 'USERNAME_UPDATED': case 'URL_CHANGE':
      return frame.type;
    case 'SEEK_PAUSE': return 'SEEK';
    case 'PLAY_PAUSE': return frame.userId === 'server' ? 'GATE_RELEASED' : 'PLAY_PAUSE';
    default: return null;
  }
}

// Every audited broadcast any of `clients` received is in the audit trail exactly once, with its
// seq; and no audited broadcast seq appears twice. Returns the number of events checked.
export function assertAuditExactlyOnce(assert, cluster, roomId, clients) {
  const events = cluster.auditEvents(roomId);
  const byKey = new Map();
  for (const e of events) {
    const key = `${e.type}@${e.seq}`;
    byKey.set(key, (byKey.get(key) ?? 0) + 1);
  }
  for (const [key, count] of byKey) {
    if (key.startsWith('ROOM_CREATED') || key.startsWith('PIN_REJECTED') || key.startsWith('ROOM_ARCHIVED')) continue;
    assert.equal(count, 1, `audit event ${key} of room ${roomId} recorded ${count} times`);
  }
  const uids = new Set(events.map((e) => e.uid));
  assert.equal(uids.size, events.length, 'duplicate event_uid');
  const seen = new Set();
  for (const c of clients) {
    for (const f of c.log) {
      const type = auditTypeOf(f);
      if (!type || f.seq === undefined) continue;
      // The creator's USER_JOINED goes to nobody; a takeover's USER_JOINED is audited too.
      const key = `${type}@${f.seq}`;
      seen.add(key);
      assert.equal(byKey.get(key), 1, `broadcast ${key} (${JSON.stringify(f)}) received by ${c.name} is not in the audit trail exactly once; audit: ${JSON.stringify(events.map((e) => `${e.type}@${e.seq}`))}`);
    }
  }
  return seen.size;
}
