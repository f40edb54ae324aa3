// Validates compose.yaml for scripts/check-compose, from the output of `docker-compose config`:
// the file with its anchors, merges and defaults resolved, already checked against the compose
// schema by docker-compose itself.
//
//   node validate-compose.mjs --binary TANDEM --root DIR [--label NAME] CONFIG.yaml
//
// Prints one line per problem, "NAME: service S: what", and exits 1 if there was any (2: usage,
// or the binary cannot run). Needs no container engine and no network. It checks:
//   * the services that run the image built from DIR's Dockerfile run tandem: each --option of
//     their command is one `tandem CMD --help` lists;
//   * one of them runs `tandem migrate`, and every `tandem serve` waits until it has completed
//     (depends_on, condition service_completed_successfully);
//   * every `tandem serve`: its command and environment through `tandem serve --check-config`,
//     which must find cluster mode; a node id no other node has; a health check of its own that
//     asks /health or /ready on the port that answers them (server.internal_port when set, else
//     server.port; the image's HEALTHCHECK asks server.port);
//   * the nginx configuration a service mounts: an upstream whose servers are exactly the serve
//     services on their server.port, and the Upgrade and Connection headers a WebSocket needs.

import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";

import { TANDEM_COMMANDS, tandemCli } from "./tandem-cli.mjs";

const { values: options, positionals } = parseArgs({
  options: { binary: { type: "string" }, root: { type: "string" }, label: { type: "string" } },
  allowPositionals: true,
});
if (!options.binary || !options.root || positionals.length !== 1) {
  console.error("usage: node validate-compose.mjs --binary TANDEM --root DIR [--label NAME] CONFIG.yaml");
  process.exit(2);
}
const label = options.label ?? "compose.yaml";
const root = path.resolve(options.root);
const work = path.join(path.dirname(path.resolve(positionals[0])), "work");
mkdirSync(work, { recursive: true });
const tandem = tandemCli(path.resolve(options.binary), work, "check-compose");

let problems = 0;
function problem(service, what) {
  problems++;
  console.log(`${label}: ${service ? `service ${service}: ` : ""}${what}`);
}
function note(what) {
  console.log(`${label}: ${what}`);
}

// `docker-compose config` writes a literal "$" as "$$" (so that its output is a compose file again).
function unescape(value) {
  return String(value).replaceAll("$$", "$");
}

function words(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value.map(unescape) : unescape(value).trim().split(/\s+/);
}

// The environment the container gets from the file (the image sets no variable tandem reads).
// A variable without a value would come from the shell that runs compose: not checkable here.
function environment(name, service) {
  const env = {};
  const entries = Array.isArray(service.environment)
    ? service.environment.map((e) => [e.split("=")[0], e.includes("=") ? e.slice(e.indexOf("=") + 1) : null])
    : Object.entries(service.environment ?? {});
  for (const [key, value] of entries) {
    if (value === null || value === undefined) problem(name, `environment ${key} has no value here (it would come from the shell)`);
    else env[key] = unescape(value);
  }
  return env;
}

const config = parseYaml(readFileSync(positionals[0], "utf8"));
const services = config.services ?? {};

// The images built from the repository (build context = DIR): tandem's.
const built = new Set();
for (const [name, service] of Object.entries(services)) {
  const context = typeof service.build === "string" ? service.build : service.build?.context;
  if (context && path.resolve(root, context) === root) built.add(service.image ?? name);
}
if (!built.size) problem(null, "no service builds the tandem image from the repository's Dockerfile");
const tandemServices = Object.entries(services).filter(([, service]) => built.has(service.image));

const migrate = [];
const nodes = [];
for (const [name, service] of tandemServices) {
  const [command, ...args] = words(service.command);
  if (!TANDEM_COMMANDS.has(command)) {
    problem(name, `runs the tandem image with command ${JSON.stringify(command ?? "")}: not one of ${[...TANDEM_COMMANDS].join(", ")}`);
    continue;
  }
  for (const option of tandem.unknownOptions(command, args)) {
    problem(name, `tandem ${command} has no option ${option} (tandem ${command} --help)`);
  }
  if (command === "migrate") migrate.push(name);
  if (command === "serve") nodes.push({ name, service, args, env: environment(name, service) });
}
if (migrate.length !== 1) problem(null, `${migrate.length} services run tandem migrate; want one, which the nodes wait for`);

const nodeIds = new Map();
for (const node of nodes) checkNode(node);
checkProxy();

function checkNode(node) {
  const { name, service, args, env } = node;
  const check = tandem.run(["serve", ...args, "--check-config"], env);
  if (!check.ok) {
    problem(name, `${["tandem", "serve", ...args, "--check-config"].join(" ")} with its environment failed: ${check.output}`);
    return;
  }
  if (!check.output.includes("cluster mode")) problem(name, `tandem serve --check-config: ${check.output}; want cluster mode ([redis] and [postgres])`);
  else note(`service ${name}: tandem serve --check-config with its environment: ${check.output}`);

  for (const waited of migrate) {
    const condition = service.depends_on?.[waited]?.condition;
    if (condition !== "service_completed_successfully") {
      problem(name, `depends_on ${waited}: condition ${condition ?? "missing"}; want service_completed_successfully, so that the node starts on a migrated database`);
    }
  }

  const effective = parseToml(tandem.run(["serve", ...args, "--print-config"], env).output.replaceAll(" | ", "\n"));
  const server = effective.server ?? {};
  node.port = server.port;
  const id = server.node_id || null;
  if (id && nodeIds.has(id)) problem(name, `node id ${id} is also ${nodeIds.get(id)}'s: two nodes would take each other's place in Redis`);
  if (id) nodeIds.set(id, name);

  const probePort = server.internal_port || server.port;
  const test = words(service.healthcheck?.test);
  if (!test.length || test[0] === "NONE") {
    problem(name, "no health check of its own (the image's asks /health on server.port, which answers 404 when server.internal_port is set)");
    return;
  }
  const text = test.slice(1).join(" ");
  const port = Number(/\/dev\/tcp\/[^/\s]+\/(\d+)/.exec(text)?.[1] ?? /(?:localhost|127\.0\.0\.1):(\d+)/.exec(text)?.[1]);
  if (!/\/(?:health|ready)\b/.test(text) || !port) {
    problem(name, "the health check asks neither /health nor /ready on a port it names");
  } else if (port !== probePort) {
    problem(name, `the health check asks port ${port}; /health and /ready are answered on ${probePort}${server.internal_port ? " (server.internal_port)" : ""}`);
  }
}

// The nginx configuration files mounted into a service ("HOST:CONTAINER[:MODE]" volumes), read
// from the repository.
function nginxConfigs() {
  const found = [];
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      const [source, target] = typeof volume === "string" ? volume.split(":") : [volume.source, volume.target];
      if (target?.startsWith("/etc/nginx/") && source?.endsWith(".conf")) found.push({ name, file: path.resolve(root, source) });
    }
  }
  return found;
}

function checkProxy() {
  const configs = nginxConfigs();
  if (!configs.length) {
    problem(null, "no service mounts an nginx configuration (/etc/nginx/...conf) to spread the connections over the nodes");
    return;
  }
  // A node whose configuration failed (reported above) has no known port: left out here.
  const unknown = new Set(nodes.filter((n) => n.port === undefined).map((n) => n.name));
  const want = new Map(nodes.filter((n) => n.port !== undefined).map((n) => [`${n.name}:${n.port}`, n.name]));
  for (const { name, file } of configs) {
    const text = readFileSync(file, "utf8").replace(/#.*$/gm, "");
    const shown = path.relative(root, file);
    const servers = new Set();
    for (const upstream of text.matchAll(/\bupstream\s+\S+\s*\{([^}]*)\}/g)) {
      for (const server of upstream[1].matchAll(/^\s*server\s+([^\s;]+)/gm)) servers.add(server[1]);
    }
    for (const server of servers) {
      if (unknown.has(server.split(":")[0])) continue;
      if (!want.has(server)) problem(name, `${shown}: upstream server ${server} is no tandem serve service on its server.port (${[...want.keys()].join(", ")})`);
    }
    for (const [server, node] of want) {
      if (!servers.has(server)) problem(name, `${shown}: no upstream server ${server}: node ${node} would get no connection through the proxy`);
    }
    if (!/proxy_set_header\s+Upgrade\s+\$http_upgrade\s*;/.test(text) || !/proxy_set_header\s+Connection\s+/.test(text)) {
      problem(name, `${shown}: no proxy_set_header Upgrade $http_upgrade and Connection: WebSocket handshakes would not reach the nodes`);
    }
    if (servers.size) note(`service ${name}: ${shown} spreads over ${[...servers].join(", ")}`);
  }
}

note(`${Object.keys(services).length} services; tandem's: ${tandemServices.map(([name]) => name).join(", ") || "none"}`);
process.exit(problems ? 1 : 0);
