// Validates one rendered kustomization (the output of `kubectl kustomize`) for scripts/check-k8s.
//
//   node validate.mjs --binary TANDEM --work DIR --label NAME RENDERED.yaml
//
// Prints one line per problem, "NAME: Kind/name: where: what", and exits 1 if there was any
// (2: usage, or a tool is missing). Nothing here needs a cluster or the network.
//
// Written for this project because no offline validator can be installed from the registries it
// may use: kubeconform and kubeval are not in Debian 12, and `kubectl --validate=strict` fetches
// the schema from an API server. Two npm packages generated from the Kubernetes v1.33 OpenAPI
// specification supply the schema:
//   * kubernetes-models: a compiled ajv validator per kind (types, required fields, enums,
//     formats). Its JSON schemas allow unknown fields, as the API server's do: the server drops
//     them silently, so a misspelt probe field would simply vanish.
//   * @kubernetes/client-node: the field list of every API type, used to reject unknown fields.
// On top of the schema it checks what no schema can:
//   * the one custom resource accepted, PrometheusRule: its groups' and rules' fields, and that
//     every alert has an expr, labels.severity and annotations.summary; every metric an expr of
//     it or of a Grafana dashboard (ConfigMap labelled grafana_dashboard) uses is one tandem
//     exports (registered in core/ or commands/ and listed in docs/operations.md) or one of the
//     few kube-state-metrics and cAdvisor metrics the alerts use;
//   * Kubernetes' recommended labels (app.kubernetes.io/name, instance, component, part-of,
//     version) on every object and pod template;
//   * references inside the render: selectors that select pods, HPA and Ingress targets,
//     ConfigMaps, Secrets' keys, named ports, volume mounts;
//   * every container that runs tandem: each --option of its args is one `tandem CMD --help` lists,
//     its --config file is in a ConfigMap mounted in it, and `tandem migrate` is no init container;
//   * every container that runs `tandem serve`: its tandem.toml (from the rendered ConfigMap),
//     its args and its environment (including the variables kubelet adds for Services) through
//     `tandem serve --check-config`; terminationGracePeriodSeconds above preStop + drain_timeout;
//     data_dir on a writable volume; server.threads matching the CPU request.
// Every ConfigMap's tandem.toml is also checked on its own, with an empty environment.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { parse as parseToml } from "smol-toml";
import { parseAllDocuments } from "yaml";

import { TANDEM_COMMANDS, tandemCli } from "./tandem-cli.mjs";

const CLIENT_MODELS = new URL("./node_modules/@kubernetes/client-node/dist/gen/models/", import.meta.url);
const PRIMITIVE_TYPES = new Set(["string", "number", "boolean", "Date", "any", "object", "IntOrString"]);
const PLACEHOLDER = "check-k8s-placeholder";
// Seconds a pod needs beyond preStop + drain_timeout: SIGKILL follows the grace period at once.
const GRACE_MARGIN_SECONDS = 5;
// The image's WORKDIR (Dockerfile): where a relative server.data_dir lands.
const IMAGE_WORKDIR = "/var/lib/tandem";
// What tandem uses for keys that neither the file, the environment nor a flag sets.
const TANDEM_DEFAULTS = { drain_timeout: "25s", data_dir: "./data", threads: 0, port: 4001, internal_port: 0 };

const { values: options, positionals } = parseArgs({
  options: { binary: { type: "string" }, work: { type: "string" }, label: { type: "string" } },
  allowPositionals: true,
});
if (!options.binary || !options.work || positionals.length !== 1) {
  console.error("usage: node validate.mjs --binary TANDEM --work DIR [--label NAME] RENDERED.yaml");
  process.exit(2);
}
const label = options.label ?? positionals[0];
const binary = path.resolve(options.binary);
mkdirSync(options.work, { recursive: true });
const tandem = tandemCli(binary, options.work, "check-k8s");

let problems = 0;
function problem(obj, where, what) {
  problems++;
  const id = obj ? `${obj.kind}/${obj.metadata?.name ?? "?"}` : "render";
  console.log(`${label}: ${id}: ${where ? `${where}: ` : ""}${what}`);
}
function note(what) {
  console.log(`${label}: ${what}`);
}

// ---- loading ---------------------------------------------------------------------------------

function loadObjects(file) {
  const objects = [];
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"), { uniqueKeys: true })) {
    for (const error of doc.errors) problem(null, "", `YAML: ${error.message}`);
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isObject(value) || typeof value.apiVersion !== "string" || typeof value.kind !== "string") {
      problem(null, "", "a document without apiVersion and kind");
      continue;
    }
    objects.push(value);
  }
  return objects;
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

// ---- schema: kubernetes-models ---------------------------------------------------------------

async function modelClass(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  try {
    const module = await import(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`);
    const model = module[kind];
    return model?.apiVersion === apiVersion ? model : null;
  } catch {
    return null;
  }
}

async function checkSchema(obj) {
  const Model = await modelClass(obj.apiVersion, obj.kind);
  if (!Model) {
    problem(obj, "", `no Kubernetes v1.33 schema for ${obj.apiVersion} ${obj.kind} (of the custom resources only ${PROMETHEUS_RULE} is accepted)`);
    return false;
  }
  try {
    new Model(obj).validate();
  } catch (error) {
    for (const e of error.errors ?? [{ instancePath: "", message: error.message }]) {
      problem(obj, e.instancePath || "/", e.message);
    }
  }
  return true;
}

// ---- unknown fields: @kubernetes/client-node field lists -------------------------------------

const fieldLists = new Map();
async function fieldList(typeName) {
  if (!fieldLists.has(typeName)) {
    let list = null;
    try {
      const module = await import(new URL(`${typeName}.js`, CLIENT_MODELS));
      list = module[typeName]?.attributeTypeMap ?? null;
    } catch {
      list = null;
    }
    fieldLists.set(typeName, list && new Map(list.map((a) => [a.baseName, a.type])));
  }
  return fieldLists.get(typeName);
}

// client-node names a type after its version and kind (V1Deployment, V2HorizontalPodAutoscaler),
// prefixed with the group where two groups share a kind (EventsV1Event).
async function topLevelType(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["core", apiVersion];
  const v = version[0].toUpperCase() + version.slice(1);
  const g = group.split(".")[0];
  for (const name of [`${v}${kind}`, `${g[0].toUpperCase()}${g.slice(1)}${v}${kind}`]) {
    const fields = await fieldList(name);
    if (fields?.has("apiVersion") && fields.has("kind")) return name;
  }
  return null;
}

async function checkFields(obj) {
  const type = await topLevelType(obj.apiVersion, obj.kind);
  if (!type) {
    problem(obj, "", `no field list for ${obj.apiVersion} ${obj.kind}`);
    return;
  }
  await walkFields(obj, type, "", obj);
}

async function walkFields(value, type, where, obj) {
  if (value === null || value === undefined || PRIMITIVE_TYPES.has(type)) return;
  let match = /^Array<(.+)>$/.exec(type);
  if (match) {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) await walkFields(item, match[1], `${where}/${i}`, obj);
    }
    return;
  }
  match = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (match) {
    if (isObject(value)) {
      for (const [key, item] of Object.entries(value)) await walkFields(item, match[1], `${where}/${key}`, obj);
    }
    return;
  }
  const fields = await fieldList(type);
  if (!fields) {
    problem(obj, where || "/", `no field list for type ${type}`);
    return;
  }
  if (!isObject(value)) return; // a wrong type: the schema check reports it
  for (const [key, item] of Object.entries(value)) {
    if (fields.has(key)) {
      await walkFields(item, fields.get(key), `${where}/${key}`, obj);
    } else {
      const guess = closest(key, [...fields.keys()]);
      problem(obj, `${where}/${key}`, `unknown field "${key}"${guess ? `; did you mean "${guess}"?` : ""}`);
    }
  }
}

function closest(word, candidates) {
  let best = null;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a, b) {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

// ---- references inside the render ------------------------------------------------------------

function namespaceOf(obj) {
  return obj.metadata?.namespace ?? "";
}

function podTemplateOf(obj) {
  switch (obj.kind) {
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return obj.spec?.template;
    case "CronJob":
      return obj.spec?.jobTemplate?.spec?.template;
    case "Pod":
      return { metadata: obj.metadata, spec: obj.spec };
    default:
      return undefined;
  }
}

function selects(selector, labels = {}) {
  if (!selector) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function isEmptySelector(selector) {
  return !selector || (Object.keys(selector.matchLabels ?? {}).length === 0 && !(selector.matchExpressions ?? []).length);
}

function allContainers(podSpec) {
  return [...(podSpec?.initContainers ?? []), ...(podSpec?.containers ?? [])];
}

class Render {
  constructor(objects) {
    this.objects = objects;
    this.workloads = objects
      .map((obj) => ({ obj, template: podTemplateOf(obj) }))
      .filter((w) => w.template);
    this.externalSecrets = new Set();
  }

  find(kind, namespace, name) {
    return this.objects.find((o) => o.kind === kind && namespaceOf(o) === namespace && o.metadata?.name === name);
  }

  templatesSelectedBy(namespace, selector) {
    return this.workloads.filter(
      (w) => namespaceOf(w.obj) === namespace && selects(selector, w.template.metadata?.labels),
    );
  }

  secretValue(namespace, name, key) {
    const secret = this.find("Secret", namespace, name);
    if (!secret) {
      this.externalSecrets.add(`${namespace}/${name}`);
      return undefined;
    }
    if (secret.stringData && Object.hasOwn(secret.stringData, key)) return String(secret.stringData[key]);
    if (secret.data && Object.hasOwn(secret.data, key)) return Buffer.from(secret.data[key], "base64").toString();
    return null;
  }
}

function checkReferences(render) {
  for (const obj of render.objects) {
    const ns = namespaceOf(obj);
    switch (obj.kind) {
      case "Service":
        checkService(render, obj, ns);
        break;
      case "HorizontalPodAutoscaler": {
        const ref = obj.spec?.scaleTargetRef ?? {};
        const target = render.find(ref.kind, ns, ref.name);
        if (!target) problem(obj, "/spec/scaleTargetRef", `${ref.kind}/${ref.name} is not in the render`);
        else if (target.spec?.replicas !== undefined) {
          problem(target, "/spec/replicas", `set while HorizontalPodAutoscaler/${obj.metadata.name} scales it: every apply would reset the replica count`);
        }
        break;
      }
      case "PodDisruptionBudget":
        if (!render.templatesSelectedBy(ns, obj.spec?.selector).length) problem(obj, "/spec/selector", "selects no pod");
        break;
      case "NetworkPolicy":
        checkNetworkPolicy(render, obj, ns);
        break;
      case "Ingress":
        for (const [i, rule] of (obj.spec?.rules ?? []).entries()) {
          for (const [j, p] of (rule.http?.paths ?? []).entries()) {
            checkServiceBackend(render, obj, ns, p.backend?.service, `/spec/rules/${i}/http/paths/${j}/backend/service`);
            checkPublishedPath(obj, p, `/spec/rules/${i}/http/paths/${j}`);
          }
        }
        if (obj.spec?.defaultBackend?.service) {
          checkServiceBackend(render, obj, ns, obj.spec.defaultBackend.service, "/spec/defaultBackend/service");
          problem(obj, "/spec/defaultBackend", "publishes every path; route only the extension's paths");
        }
        break;
      default:
        break;
    }
  }
  for (const { obj, template } of render.workloads) checkPodTemplate(render, obj, template);
}

function checkService(render, obj, ns) {
  if (obj.spec?.type === "ExternalName" || isEmptySelector({ matchLabels: obj.spec?.selector })) return;
  const selected = render.templatesSelectedBy(ns, { matchLabels: obj.spec.selector });
  if (!selected.length) {
    problem(obj, "/spec/selector", "selects no pod");
    return;
  }
  for (const [i, port] of (obj.spec.ports ?? []).entries()) {
    if (typeof port.targetPort !== "string") continue;
    const named = selected.some((w) =>
      (w.template.spec?.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort)),
    );
    if (!named) problem(obj, `/spec/ports/${i}/targetPort`, `no selected container has a port named "${port.targetPort}"`);
  }
}

// What the extension uses (docs/protocol.md): the WebSocket, /status, /api/..., /room/.... Anything
// wider (e.g. "/" as a Prefix) would publish /metrics and the probes on a node without
// server.internal_port.
const PUBLISHED_PATHS = [
  { path: "/ws", types: ["Exact"] },
  { path: "/status", types: ["Exact"] },
  { path: "/api", types: ["Exact", "Prefix"] },
  { path: "/room", types: ["Exact", "Prefix"] },
];

function checkPublishedPath(obj, p, where) {
  const path = (p.path ?? "").replace(/(.)\/+$/, "$1");
  const allowed = PUBLISHED_PATHS.find((a) => a.path === path);
  if (!allowed) {
    problem(obj, `${where}/path`, `publishes ${JSON.stringify(p.path)}: only ${PUBLISHED_PATHS.map((a) => a.path).join(", ")} are the extension's`);
  } else if (!allowed.types.includes(p.pathType)) {
    problem(obj, `${where}/pathType`, `${p.path} must be ${allowed.types.join(" or ")}, not ${p.pathType}`);
  }
}

function checkServiceBackend(render, obj, ns, backend, where) {
  if (!backend) return;
  const service = render.find("Service", ns, backend.name);
  if (!service) {
    problem(obj, where, `Service/${backend.name} is not in the render`);
    return;
  }
  const ports = service.spec?.ports ?? [];
  const found = backend.port?.name !== undefined
    ? ports.some((p) => p.name === backend.port.name)
    : ports.some((p) => p.port === backend.port?.number);
  if (!found) problem(obj, `${where}/port`, `Service/${backend.name} has no such port`);
}

function checkNetworkPolicy(render, obj, ns) {
  const spec = obj.spec ?? {};
  const selected = isEmptySelector(spec.podSelector) ? null : render.templatesSelectedBy(ns, spec.podSelector);
  if (selected && !selected.length) problem(obj, "/spec/podSelector", "selects no pod");
  const rules = [
    ...(spec.ingress ?? []).map((r, i) => ({ peers: r.from, ports: r.ports, where: `/spec/ingress/${i}`, inbound: true })),
    ...(spec.egress ?? []).map((r, i) => ({ peers: r.to, ports: r.ports, where: `/spec/egress/${i}`, inbound: false })),
  ];
  for (const rule of rules) {
    for (const [j, peer] of (rule.peers ?? []).entries()) {
      if (peer.namespaceSelector || peer.ipBlock || isEmptySelector(peer.podSelector)) continue;
      if (!render.templatesSelectedBy(ns, peer.podSelector).length) {
        problem(obj, `${rule.where}/${rule.inbound ? "from" : "to"}/${j}/podSelector`, "selects no pod in this namespace");
      }
    }
    if (!rule.inbound || !selected) continue;
    for (const [j, port] of (rule.ports ?? []).entries()) {
      if (typeof port.port !== "string") continue;
      const named = selected.some((w) =>
        allContainers(w.template.spec).some((c) => (c.ports ?? []).some((p) => p.name === port.port)),
      );
      if (!named) problem(obj, `${rule.where}/ports/${j}/port`, `no selected container has a port named "${port.port}"`);
    }
  }
}

function checkPodTemplate(render, obj, template) {
  const ns = namespaceOf(obj);
  const spec = template.spec ?? {};
  const base = podTemplateBase(obj);
  if (obj.spec?.selector && obj.kind !== "Job" && !selects(obj.spec.selector, template.metadata?.labels)) {
    problem(obj, "/spec/selector", "does not select the pod template's labels");
  }
  if (obj.kind === "StatefulSet" && obj.spec?.serviceName) {
    const service = render.find("Service", ns, obj.spec.serviceName);
    if (!service) problem(obj, "/spec/serviceName", `Service/${obj.spec.serviceName} is not in the render`);
    else if (service.spec?.clusterIP !== "None") problem(obj, "/spec/serviceName", `Service/${obj.spec.serviceName} is not headless`);
  }
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  for (const claim of obj.spec?.volumeClaimTemplates ?? []) volumes.set(claim.metadata?.name, { persistentVolumeClaim: {} });
  for (const [i, volume] of (spec.volumes ?? []).entries()) {
    if (volume.configMap && !volume.configMap.optional && !render.find("ConfigMap", ns, volume.configMap.name)) {
      problem(obj, `${base}/volumes/${i}/configMap/name`, `ConfigMap/${volume.configMap.name} is not in the render`);
    }
    if (volume.secret) render.secretValue(ns, volume.secret.secretName, "");
  }
  const groups = [["initContainers", spec.initContainers ?? []], ["containers", spec.containers ?? []]];
  for (const [group, containers] of groups) {
    for (const [i, c] of containers.entries()) {
      const where = `${base}/${group}/${i}`;
      for (const [j, mount] of (c.volumeMounts ?? []).entries()) {
        if (!volumes.has(mount.name)) problem(obj, `${where}/volumeMounts/${j}`, `no volume named "${mount.name}"`);
      }
      const portNames = new Set((c.ports ?? []).map((p) => p.name).filter(Boolean));
      for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
        if (typeof port === "string" && !portNames.has(port)) {
          problem(obj, `${where}/${probe}`, `the container has no port named "${port}"`);
        }
      }
      for (const [j, e] of (c.env ?? []).entries()) {
        const from = e.valueFrom ?? {};
        if (from.configMapKeyRef && !from.configMapKeyRef.optional) {
          const cm = render.find("ConfigMap", ns, from.configMapKeyRef.name);
          if (!cm?.data || !Object.hasOwn(cm.data, from.configMapKeyRef.key)) {
            problem(obj, `${where}/env/${j}`, `ConfigMap/${from.configMapKeyRef.name} key ${from.configMapKeyRef.key} is not in the render`);
          }
        }
        if (from.secretKeyRef && !from.secretKeyRef.optional) {
          if (render.secretValue(ns, from.secretKeyRef.name, from.secretKeyRef.key) === null) {
            problem(obj, `${where}/env/${j}`, `Secret/${from.secretKeyRef.name} has no key ${from.secretKeyRef.key}`);
          }
        }
      }
      for (const [j, source] of (c.envFrom ?? []).entries()) {
        if (source.configMapRef && !source.configMapRef.optional && !render.find("ConfigMap", ns, source.configMapRef.name)) {
          problem(obj, `${where}/envFrom/${j}`, `ConfigMap/${source.configMapRef.name} is not in the render`);
        }
        if (source.secretRef) render.secretValue(ns, source.secretRef.name, "");
      }
      if (isTandem(c)) {
        checkTandemOptions(obj, c, where);
        // serve's configuration is checked whole below; the other commands' --config must at
        // least be there.
        if (!isTandemServe(c)) mountedConfig(render, obj, template, c, c.args, where);
        if (group === "initContainers" && c.args[0] === "migrate") {
          problem(obj, where, "tandem migrate as an init container: no pod could start while PostgreSQL is down; run it as a Job (docs/deployment.md, Schema)");
        }
      }
      if (group === "containers" && isTandemServe(c)) checkTandemServe(render, obj, template, c, where);
    }
  }
}

// Kubernetes' recommended labels: on every object and every pod template, so that one selector
// (e.g. app.kubernetes.io/instance=tandem-prod) finds everything of an installation.
const RECOMMENDED_LABELS = ["name", "instance", "component", "part-of", "version"].map((l) => `app.kubernetes.io/${l}`);

// A label value the API server accepts: at most 63 characters, alphanumerics with - _ . inside.
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function checkRecommendedLabels(render) {
  const check = (obj, where, labels) => {
    const missing = RECOMMENDED_LABELS.filter((l) => !Object.hasOwn(labels ?? {}, l));
    if (missing.length) problem(obj, where, `lacks the label(s) ${missing.join(", ")}`);
    for (const [key, value] of Object.entries(labels ?? {})) {
      if (typeof value !== "string" || LABEL_VALUE.test(value)) continue; // a non-string: the schema says so
      const hint = key === "app.kubernetes.io/version" ? " (the image's tag, copied by the overlay's replacements)" : "";
      problem(obj, `${where}/${key.replaceAll("/", "~1")}`, `${JSON.stringify(value)} is no valid label value${hint}`);
    }
  };
  for (const obj of render.objects) check(obj, "/metadata/labels", obj.metadata?.labels);
  for (const { obj, template } of render.workloads) {
    check(obj, `${podTemplateBase(obj).replace(/\/spec$/, "/metadata")}/labels`, template.metadata?.labels);
  }
}

function podTemplateBase(obj) {
  if (obj.kind === "Pod") return "/spec";
  if (obj.kind === "CronJob") return "/spec/jobTemplate/spec/template/spec";
  return "/spec/template/spec";
}

// ---- monitoring: PrometheusRule, Grafana dashboards ------------------------------------------

// The one custom resource accepted: the prometheus-operator's PrometheusRule. No schema package
// here covers it, so its shape is checked by hand: the fields of its groups and rules (unknown
// ones refused, as the CRD's structural schema would drop them), and what an alert needs to be
// acted on: an expr on metrics that exist, labels.severity and annotations.summary.
const PROMETHEUS_RULE = "monitoring.coreos.com/v1 PrometheusRule";
const RULE_GROUP_FIELDS = ["name", "interval", "rules", "limit", "partial_response_strategy", "query_offset", "labels"];
const RULE_FIELDS = ["alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"];
const SEVERITIES = ["critical", "warning", "info"];
const PROMETHEUS_DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+$/;

// Metrics of other exporters the rules may use (docs/operations.md, Metrics): kube-state-metrics
// and cAdvisor, as most Prometheus installations on Kubernetes scrape them.
const EXTERNAL_METRICS = new Set([
  "kube_deployment_status_replicas_available",
  "kube_deployment_spec_replicas",
  "kube_horizontalpodautoscaler_status_current_replicas",
  "kube_horizontalpodautoscaler_spec_max_replicas",
  "kube_job_failed",
  "kube_pod_container_status_restarts_total",
  "kube_pod_container_resource_limits",
  "container_memory_working_set_bytes",
]);

function isPrometheusRule(obj) {
  return `${obj.apiVersion} ${obj.kind}` === PROMETHEUS_RULE;
}

function unknownFields(obj, where, value, known) {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    problem(obj, `${where}/${key}`, `unknown field "${key}"${guess ? `; did you mean "${guess}"?` : ""}`);
  }
}

async function checkPrometheusRule(obj) {
  unknownFields(obj, "", obj, ["apiVersion", "kind", "metadata", "spec"]);
  await walkFields(obj.metadata, "V1ObjectMeta", "/metadata", obj);
  if (!isObject(obj.spec)) {
    problem(obj, "/spec", "missing");
    return;
  }
  unknownFields(obj, "/spec", obj.spec, ["groups"]);
  const groups = obj.spec.groups;
  if (!Array.isArray(groups) || !groups.length) {
    problem(obj, "/spec/groups", "no rule group");
    return;
  }
  const names = new Set();
  for (const [i, group] of groups.entries()) {
    const where = `/spec/groups/${i}`;
    if (!isObject(group)) {
      problem(obj, where, "not a mapping");
      continue;
    }
    unknownFields(obj, where, group, RULE_GROUP_FIELDS);
    if (typeof group.name !== "string" || !group.name) problem(obj, `${where}/name`, "missing");
    else if (names.has(group.name)) problem(obj, `${where}/name`, `a second group named "${group.name}"`);
    names.add(group.name);
    if (!Array.isArray(group.rules) || !group.rules.length) problem(obj, `${where}/rules`, "no rule");
    for (const [j, rule] of (Array.isArray(group.rules) ? group.rules : []).entries()) {
      checkRule(obj, `${where}/rules/${j}`, rule);
    }
  }
}

function checkRule(obj, where, rule) {
  if (!isObject(rule)) {
    problem(obj, where, "not a mapping");
    return;
  }
  unknownFields(obj, where, rule, RULE_FIELDS);
  const name = rule.alert ?? rule.record ?? "rule";
  if ((rule.alert === undefined) === (rule.record === undefined)) problem(obj, where, "needs either alert or record");
  if (typeof rule.expr !== "string" || !rule.expr.trim()) problem(obj, `${where}/expr`, `${name}: no expr`);
  else checkExprMetrics(obj, `${where}/expr`, rule.expr, name);
  for (const key of ["for", "keep_firing_for"]) {
    if (rule[key] !== undefined && !PROMETHEUS_DURATION.test(String(rule[key]))) {
      problem(obj, `${where}/${key}`, `${name}: ${JSON.stringify(rule[key])} is not a Prometheus duration`);
    }
  }
  for (const key of ["labels", "annotations"]) {
    for (const [k, v] of Object.entries(rule[key] ?? {})) {
      if (typeof v !== "string") problem(obj, `${where}/${key}/${k}`, `${name}: must be a string`);
    }
  }
  if (rule.alert === undefined) return;
  const severity = rule.labels?.severity;
  if (!SEVERITIES.includes(severity)) {
    problem(obj, `${where}/labels/severity`, `${name}: ${severity === undefined ? "missing" : JSON.stringify(severity)}; one of ${SEVERITIES.join(", ")}`);
  }
  if (typeof rule.annotations?.summary !== "string" || !rule.annotations.summary.trim()) {
    problem(obj, `${where}/annotations/summary`, `${name}: missing`);
  }
}

// The metric names a PromQL expression selects: what is left once strings, label matchers,
// ranges, grouping label lists, offsets and Grafana variables are taken out, minus functions
// (a name before "(") and keywords.
const PROMQL_KEYWORDS = new Set(["and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "inf", "nan"]);

function promqlMetricNames(expr) {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/#.*$/gm, " ")
    .replace(/\$\{[^}]*\}|\$\w+/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\boffset\s+-?\w+/g, " ");
  const names = new Set();
  for (const m of text.matchAll(/(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    if (!PROMQL_KEYWORDS.has(m[1].toLowerCase())) names.add(m[1]);
  }
  return names;
}

// What tandem exports: the metrics the tables of docs/operations.md ("## Metrics") name, with
// their types, and the ones the code registers (a string literal in core/ or commands/).
let catalog = null;
function tandemMetrics() {
  if (catalog) return catalog;
  const root = new URL("../../", import.meta.url);
  const documented = new Map();
  const docs = readFileSync(new URL("docs/operations.md", root), "utf8");
  const section = docs.split(/^## /m).find((part) => part.startsWith("Metrics\n")) ?? "";
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells.length < 4 || !cells[1].startsWith("`")) continue;
    for (const m of cells[1].matchAll(/`([a-z_:][a-z0-9_:]*)(?:\{[^`]*\})?`/g)) documented.set(m[1], cells[2]);
  }
  const registered = new Set();
  for (const dir of ["core", "commands"]) {
    const base = new URL(`${dir}/`, root);
    for (const file of readdirSync(base, { recursive: true })) {
      if (!/\.(?:cpp|hpp)$/.test(file)) continue;
      for (const m of readFileSync(new URL(file, base), "utf8").matchAll(/"((?:tandem|process)_[a-z0-9_]+)"/g)) registered.add(m[1]);
    }
  }
  catalog = { documented, registered };
  return catalog;
}

function checkExprMetrics(obj, where, expr, context) {
  const { documented, registered } = tandemMetrics();
  for (const metric of promqlMetricNames(expr)) {
    if (/^(?:tandem|process)_/.test(metric)) {
      const series = /^(.*)_(?:bucket|sum|count)$/.exec(metric);
      const name = series && documented.get(series[1]) === "histogram" ? series[1] : metric;
      if (!registered.has(name)) problem(obj, where, `${context}: tandem exports no metric ${metric} (none registered in core/ or commands/)`);
      else if (!documented.has(name)) problem(obj, where, `${context}: ${metric} is not in docs/operations.md, Metrics`);
    } else if (!EXTERNAL_METRICS.has(metric)) {
      problem(obj, where, `${context}: ${metric} is neither tandem's nor one of the kube-state-metrics and cAdvisor metrics the rules may use`);
    }
  }
}

// Grafana dashboards (ConfigMaps labelled grafana_dashboard, as the dashboard sidecar finds them):
// JSON, with panels, whose queries use metrics that exist.
function checkDashboards(render) {
  for (const obj of render.objects) {
    if (obj.kind !== "ConfigMap" || obj.metadata?.labels?.grafana_dashboard === undefined) continue;
    for (const [key, text] of Object.entries(obj.data ?? {})) {
      const where = `/data/${key}`;
      let dashboard;
      try {
        dashboard = JSON.parse(text);
      } catch (error) {
        problem(obj, where, `not JSON: ${error.message}`);
        continue;
      }
      const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== "row");
      if (!panels.length) problem(obj, where, "a dashboard without panels");
      for (const panel of panels) {
        for (const target of panel.targets ?? []) {
          if (typeof target.expr === "string") checkExprMetrics(obj, where, target.expr, `panel "${panel.title}"`);
        }
      }
      for (const variable of dashboard.templating?.list ?? []) {
        const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
        const selector = /^\s*label_values\(\s*([^,]+),/.exec(query ?? "");
        if (selector) checkExprMetrics(obj, where, selector[1], `variable "${variable.name}"`);
      }
    }
  }
}

// ---- tandem serve ----------------------------------------------------------------------------

// A container of the tandem image: its entrypoint is tandem, so args start with the command.
function isTandem(container) {
  return container.command === undefined && TANDEM_COMMANDS.has((container.args ?? [])[0]);
}

function isTandemServe(container) {
  return isTandem(container) && container.args[0] === "serve";
}

// An option the command does not have would fail the container at once (usage error).
function checkTandemOptions(obj, container, where) {
  const [command, ...args] = container.args;
  for (const option of tandem.unknownOptions(command, args)) {
    problem(obj, `${where}/args`, `tandem ${command} has no option ${option} (tandem ${command} --help)`);
  }
}

// The environment kubelet gives the container: Service variables (unless enableServiceLinks is
// false; KUBERNETES_* always), then envFrom, then env, with $(VAR) references expanded.
function containerEnvironment(render, obj, template, container) {
  const ns = namespaceOf(obj);
  const env = {};
  const services = [{ metadata: { name: "kubernetes" }, spec: { ports: [{ name: "https", port: 443, protocol: "TCP" }] } }];
  if (template.spec?.enableServiceLinks !== false) {
    services.push(...render.objects.filter((o) => o.kind === "Service" && namespaceOf(o) === ns));
  }
  let address = 1;
  for (const service of services) {
    if (service.spec?.type === "ExternalName" || service.spec?.clusterIP === "None") continue;
    const prefix = service.metadata.name.toUpperCase().replaceAll("-", "_");
    const ip = `10.96.0.${address++}`;
    const ports = service.spec?.ports ?? [];
    if (!ports.length) continue;
    env[`${prefix}_SERVICE_HOST`] = ip;
    env[`${prefix}_SERVICE_PORT`] = String(ports[0].port);
    env[`${prefix}_PORT`] = `${(ports[0].protocol ?? "TCP").toLowerCase()}://${ip}:${ports[0].port}`;
    for (const p of ports) {
      const protocol = p.protocol ?? "TCP";
      if (p.name) env[`${prefix}_SERVICE_PORT_${p.name.toUpperCase().replaceAll("-", "_")}`] = String(p.port);
      const key = `${prefix}_PORT_${p.port}_${protocol}`;
      env[key] = `${protocol.toLowerCase()}://${ip}:${p.port}`;
      env[`${key}_PROTO`] = protocol.toLowerCase();
      env[`${key}_PORT`] = String(p.port);
      env[`${key}_ADDR`] = ip;
    }
  }
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? "";
    if (source.configMapRef) {
      const cm = render.find("ConfigMap", ns, source.configMapRef.name);
      for (const [k, v] of Object.entries(cm?.data ?? {})) env[prefix + k] = String(v);
    }
    if (source.secretRef) {
      const secret = render.find("Secret", ns, source.secretRef.name);
      for (const k of Object.keys({ ...secret?.data, ...secret?.stringData })) {
        env[prefix + k] = render.secretValue(ns, source.secretRef.name, k);
      }
    }
  }
  for (const e of container.env ?? []) {
    const from = e.valueFrom;
    if (!from) {
      env[e.name] = expand(e.value ?? "", env);
    } else if (from.fieldRef) {
      const field = from.fieldRef.fieldPath;
      env[e.name] = field === "metadata.name" ? `${obj.metadata.name}-5d4f7b9c8-x2x9z` : field === "metadata.namespace" ? ns : "10.244.0.10";
    } else if (from.resourceFieldRef) {
      env[e.name] = "1";
    } else if (from.configMapKeyRef) {
      env[e.name] = render.find("ConfigMap", ns, from.configMapKeyRef.name)?.data?.[from.configMapKeyRef.key] ?? "";
    } else if (from.secretKeyRef) {
      env[e.name] = render.secretValue(ns, from.secretKeyRef.name, from.secretKeyRef.key) ?? PLACEHOLDER;
    }
  }
  return env;
}

function expand(text, env) {
  return String(text).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) => (Object.hasOwn(env, name) ? env[name] : whole));
}

// The ConfigMap file behind a path in the container: { configMap, key } or null.
function configMapFile(render, obj, template, container, file) {
  const ns = namespaceOf(obj);
  const volumes = new Map((template.spec?.volumes ?? []).map((v) => [v.name, v]));
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume?.configMap) continue;
    let key = null;
    if (mount.subPath) {
      if (file === mount.mountPath) key = mount.subPath;
    } else if (file.startsWith(`${mount.mountPath.replace(/\/$/, "")}/`)) {
      key = file.slice(mount.mountPath.replace(/\/$/, "").length + 1);
    }
    if (key === null) continue;
    const item = (volume.configMap.items ?? []).find((i) => i.path === key);
    if (volume.configMap.items && !item) return null;
    const configMap = render.find("ConfigMap", ns, volume.configMap.name);
    const dataKey = item ? item.key : key;
    if (!configMap?.data || !Object.hasOwn(configMap.data, dataKey)) return null;
    return { configMap, key: dataKey };
  }
  return null;
}

// The file `--config` names in `args`, looked up in the ConfigMaps mounted in the container:
// { index, found } (index -1 without --config), or null, reported, when no mounted ConfigMap
// holds it.
function mountedConfig(render, obj, template, container, args, where) {
  const index = args.findIndex((a) => a === "--config" || a === "-c");
  if (index < 0) return { index, found: null };
  const file = args[index + 1] ?? "";
  const found = configMapFile(render, obj, template, container, file);
  if (!found) {
    problem(obj, `${where}/args`, `--config ${file} is not a file of a ConfigMap mounted in this container`);
    return null;
  }
  return { index, found };
}

function checkTandemServe(render, obj, template, container, where) {
  const env = containerEnvironment(render, obj, template, container);
  const args = (container.args ?? []).map((a) => expand(a, env));
  const config = mountedConfig(render, obj, template, container, args, where);
  if (!config) return;
  const { index: configIndex, found } = config;
  let toml = {};
  let source = null;
  if (found) {
    source = `ConfigMap/${found.configMap.metadata.name}[${found.key}]`;
    const local = path.join(options.work, `${obj.kind}.${obj.metadata.name}.${container.name}.toml`);
    writeFileSync(local, found.configMap.data[found.key]);
    args[configIndex + 1] = local;
    try {
      toml = parseToml(found.configMap.data[found.key]);
    } catch {
      toml = {}; // tandem's own check below reports the syntax error
    }
  }

  const run = tandem.run([...args, "--check-config"], env);
  const shown = `tandem ${(container.args ?? []).join(" ")} --check-config`;
  if (run.ok) {
    note(`${obj.kind}/${obj.metadata.name} container ${container.name}: ${shown} with its environment: ${run.output}`);
  } else {
    problem(obj, `${where} (${container.name})`, `${shown} with the container's environment failed: ${run.output.replaceAll(args[configIndex + 1], source)}`);
  }

  const setting = (section, key, flag) => {
    for (let i = args.length - 1; i > 0; i--) {
      if (flag && args[i - 1] === flag) return args[i];
      if (args[i - 1] === "--set" && args[i].startsWith(`${section}.${key}=`)) return args[i].slice(section.length + key.length + 2);
    }
    const variable = `TANDEM_${section}_${key}`.toUpperCase();
    if (Object.hasOwn(env, variable)) return env[variable];
    return toml[section]?.[key] ?? TANDEM_DEFAULTS[key];
  };
  const spec = template.spec ?? {};

  // SIGKILL comes terminationGracePeriodSeconds after the preStop hook starts.
  const drain = parseDuration(String(setting("server", "drain_timeout")));
  const preStop = preStopSeconds(container.lifecycle?.preStop);
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  if (drain === null) {
    problem(obj, `${where}`, `server.drain_timeout "${setting("server", "drain_timeout")}" is not a duration`);
  } else if (grace < preStop + drain + GRACE_MARGIN_SECONDS) {
    problem(obj, `${podTemplateBase(obj)}/terminationGracePeriodSeconds`,
      `${grace} s is too short: preStop ${preStop} s + server.drain_timeout ${drain} s + ${GRACE_MARGIN_SECONDS} s = ${preStop + drain + GRACE_MARGIN_SECONDS} s`);
  }

  // The root filesystem is read-only: data_dir must be on a writable volume.
  if (container.securityContext?.readOnlyRootFilesystem) {
    const dataDir = path.posix.resolve(container.workingDir ?? IMAGE_WORKDIR, String(setting("server", "data_dir", "--data-dir")));
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    const writable = (container.volumeMounts ?? []).some((m) => {
      const v = volumes.get(m.name);
      const inside = dataDir === m.mountPath || dataDir.startsWith(`${m.mountPath.replace(/\/$/, "")}/`);
      return inside && !m.readOnly && !v?.configMap && !v?.secret && !v?.downwardAPI && !v?.projected;
    });
    if (!writable) problem(obj, `${where}/volumeMounts`, `server.data_dir ${dataDir} is on no writable volume, and the root filesystem is read-only`);
  }

  // server.threads = 0 means one thread per core of the node, not of the pod.
  const threads = Number(setting("server", "threads"));
  const cpu = parseCpu(container.resources?.requests?.cpu);
  if (threads === 0) {
    problem(obj, `${where}`, "server.threads = 0 starts one I/O thread per core of the node; set it to the CPU request");
  } else if (cpu !== null && threads !== Math.max(1, Math.ceil(cpu))) {
    problem(obj, `${where}/resources/requests/cpu`, `${container.resources.requests.cpu} CPU requested, but server.threads = ${threads} (want ${Math.max(1, Math.ceil(cpu))})`);
  }

  // The container's ports are the ones tandem listens on, and the probes ask /health and /ready
  // where tandem answers them: on server.internal_port when it is set, else on server.port.
  const publicPort = Number(setting("server", "port", "--port"));
  const internalPort = Number(setting("server", "internal_port"));
  const portNumber = (port) => (typeof port === "string"
    ? (container.ports ?? []).find((p) => p.name === port)?.containerPort
    : port);
  const declared = new Set((container.ports ?? []).map((p) => p.containerPort));
  for (const [number, key] of [[publicPort, "server.port"], [internalPort, "server.internal_port"]]) {
    if (number && !declared.has(number)) problem(obj, `${where}/ports`, `no container port ${number} (${key})`);
  }
  const probePort = internalPort || publicPort;
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const get = container[probe]?.httpGet;
    if (get && portNumber(get.port) !== probePort) {
      problem(obj, `${where}/${probe}/httpGet/port`, `${get.path} is answered on port ${probePort}` +
        `${internalPort ? " (server.internal_port)" : ""}, not on ${JSON.stringify(get.port)}`);
    }
  }
  if (internalPort) {
    const annotated = template.metadata?.annotations?.["prometheus.io/port"];
    if (annotated !== undefined && Number(annotated) !== internalPort) {
      problem(obj, `${podTemplateBase(obj).replace(/\/spec$/, "/metadata")}/annotations/prometheus.io~1port`, `${annotated}, but /metrics is on server.internal_port ${internalPort}`);
    }
  }
}

function preStopSeconds(preStop) {
  if (!preStop) return 0;
  if (preStop.sleep?.seconds !== undefined) return Number(preStop.sleep.seconds);
  const command = preStop.exec?.command ?? [];
  if (command.length >= 2 && /(^|\/)sleep$/.test(command[command.length - 2])) {
    const seconds = Number(command[command.length - 1]);
    if (Number.isFinite(seconds)) return seconds;
  }
  return 0;
}

// tandem's durations: an integer with a unit ms, s, m, h or d, possibly several ("1h30m").
function parseDuration(text) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== text) return null;
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]], 0);
}

function parseCpu(quantity) {
  if (quantity === undefined) return null;
  const text = String(quantity);
  return text.endsWith("m") ? Number(text.slice(0, -1)) / 1000 : Number(text);
}

function checkTandemConfigMaps(render) {
  for (const obj of render.objects) {
    if (obj.kind !== "ConfigMap" || !Object.hasOwn(obj.data ?? {}, "tandem.toml")) continue;
    const local = path.join(options.work, `ConfigMap.${obj.metadata.name}.tandem.toml`);
    writeFileSync(local, obj.data["tandem.toml"]);
    const run = tandem.run(["serve", "--check-config", "--config", local], {});
    const output = run.output.replaceAll(local, `ConfigMap/${obj.metadata.name}[tandem.toml]`);
    if (run.ok) note(`ConfigMap/${obj.metadata.name}: tandem serve --check-config: ${output}`);
    else problem(obj, "/data/tandem.toml", `tandem serve --check-config failed: ${output}`);
  }
}

// ---- main ------------------------------------------------------------------------------------

const objects = loadObjects(positionals[0]);
const kinds = new Map();
for (const obj of objects) {
  if (isPrometheusRule(obj)) await checkPrometheusRule(obj);
  else if (await checkSchema(obj)) await checkFields(obj);
  kinds.set(obj.kind, (kinds.get(obj.kind) ?? 0) + 1);
}
const render = new Render(objects);
checkReferences(render);
checkRecommendedLabels(render);
checkDashboards(render);
checkTandemConfigMaps(render);
const rules = objects.filter(isPrometheusRule).length;
note(`${objects.length} objects checked against the Kubernetes v1.33 schema, unknown fields rejected` +
  `${rules ? ` (${rules} PrometheusRule by its own shape check)` : ""}: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}`);
for (const secret of [...render.externalSecrets].sort()) note(`expects Secret ${secret} to exist in the cluster (not in the render)`);
if (!objects.length) problem(null, "", "the render holds no object");
process.exit(problems ? 1 : 0);
