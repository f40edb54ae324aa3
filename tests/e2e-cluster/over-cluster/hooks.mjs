// Module resolution hook: tests/e2e/lib/server.mjs -> server-shim.mjs, except for the cluster
// harness itself, which launches the real processes through it.
const shim = new URL('./server-shim.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const parent = context.parentURL ?? '';
  if (resolved.url.endsWith('/tests/e2e/lib/server.mjs') && !parent.includes('/tests/e2e-cluster/')) {
    return { ...resolved, url: shim, shortCircuit: true };
  }
  return resolved;
}
