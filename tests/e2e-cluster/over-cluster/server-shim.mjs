// startServer() for the single-node suite, backed by a 3-node cluster behind a round-robin TCP
// proxy (see register.mjs). The object it returns has the TandemServer fields the suite uses.
import net from 'node:net';
import { startCluster } from '../lib/cluster.mjs';

export { TANDEM_BINARY, TandemServer, freePort } from '../../e2e/lib/server.mjs';

class RoundRobinProxy {
  static async start(nodes) {
    const proxy = new RoundRobinProxy(nodes);
    await new Promise((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', resolve);
    });
    proxy.port = proxy.server.address().port;
    return proxy;
  }

  constructor(nodes) {
    this.nodes = nodes;
    this.next = 0;
    this.sockets = new Set();
    this.server = net.createServer((client) => {
      const node = this.nodes[this.next++ % this.nodes.length];
      // Keep the client's loopback address (127.0.0.x) so per-address rules still see it.
      const localAddress = (client.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
      const upstream = net.connect({ host: node.host, port: node.port, localAddress });
      // A side that ends lets the other flush what it still holds (e.g. a close frame) first.
      for (const [s, other] of [[client, upstream], [upstream, client]]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          other.end();
          setTimeout(() => other.destroy(), 1000).unref();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

class ClusterServer {
  constructor(cluster, proxy) {
    this.cluster = cluster;
    this.proxy = proxy;
    this.host = '127.0.0.1';
    this.port = proxy.port;
    this.base = `http://${this.host}:${this.port}`;
    this.wsUrl = `ws://${this.host}:${this.port}/ws`;
    this.dbPath = null;  // no SQLite in cluster mode
    this.args = cluster.nodes[0].args;
    this.exited = Promise.all(cluster.nodes.map((n) => n.exited)).then((exits) => exits[0]);
  }

  get log() { return this.cluster.logs(); }
  logTail(chars = 4000) { return this.log.slice(-chars); }
  get running() { return this.cluster.nodes.every((n) => n.running); }
  get exit() { return this.running ? null : this.cluster.nodes.find((n) => !n.running).exit; }

  async terminate(timeoutMs = 15000) {
    const exits = await Promise.all(this.cluster.nodes.map((n) => n.terminate(timeoutMs)));
    return exits.find((e) => e.code !== 0) ?? exits[0];
  }

  async cleanup() {
    await this.proxy.close().catch(() => {});
    await this.cluster.cleanup();
  }
}

export async function startServer(t, options = {}) {
  const hooks = { after: (fn) => (t ? t.after(fn) : undefined) };
  const cluster = await startCluster(hooks, { set: options.set ?? {}, env: options.env ?? {} });
  const proxy = await RoundRobinProxy.start(cluster.nodes);
  hooks.after(() => proxy.close().catch(() => {}));
  return new ClusterServer(cluster, proxy);
}
