// Plain HTTP helpers: a request wrapper (optionally bound to a local address) and raw sockets.
import http from 'node:http';
import net from 'node:net';

// httpRequest(server, {method, path, headers, localAddress, timeoutMs}) -> {status, headers, body, json()}
export function httpRequest(server, { method = 'GET', path = '/', headers = {}, localAddress, body, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: server.host,
      port: server.port,
      method,
      path,
      headers,
      localAddress,
      agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: text,
          json() {
            try {
              return JSON.parse(text);
            } catch {
              throw new Error(`${method} ${path}: body is not JSON: ${JSON.stringify(text.slice(0, 300))}`);
            }
          },
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export const get = (server, path, opts = {}) => httpRequest(server, { ...opts, path });

// A raw TCP connection that records everything it receives and when it closed.
export function rawConnect(server, { localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port, localAddress });
    const conn = { socket, data: '', closedAt: null, openedAt: Date.now() };
    conn.closed = new Promise((res) => socket.on('close', () => { conn.closedAt = Date.now(); res(conn.closedAt); }));
    socket.on('data', (d) => { conn.data += d.toString('latin1'); });
    socket.on('error', () => {});
    socket.once('connect', () => resolve(conn));
    socket.once('error', reject);
  });
}

// Sends one raw request and waits for the server to answer and/or close.
export async function rawRequest(server, text, { timeoutMs = 5000 } = {}) {
  const conn = await rawConnect(server);
  conn.socket.write(text);
  const status = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    const check = () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(conn.data);
      if (m && conn.data.includes('\r\n\r\n')) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    conn.socket.on('data', check);
    conn.closed.then(() => { clearTimeout(timer); check(); resolve(null); });
  });
  conn.socket.destroy();
  return { status, data: conn.data };
}

// Parses a Prometheus text exposition into {samples: [{name, labels, value}], text}.
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      for (const part of m[2].slice(1, -1).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[part[1]] = part[2];
      }
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, text };
}

export async function metrics(server, opts = {}) {
  const res = await get(server, '/metrics', opts);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(res.body);
}

// Sum of the samples of one metric whose labels include `labels`.
export function metricValue(parsed, name, labels = {}) {
  let found = false;
  let sum = 0;
  for (const s of parsed.samples) {
    if (s.name !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
    found = true;
    sum += s.value;
  }
  return found ? sum : undefined;
}
