// `node --import ./over-cluster/register.mjs --test ../e2e/<file>.test.mjs`: runs the single-node
// end-to-end suite unchanged against a 3-node cluster. The suite's `startServer` (lib/server.mjs)
// is replaced by server-shim.mjs, which starts a cluster behind a round-robin TCP proxy: every
// WebSocket and HTTP connection of a test lands on the next node, so the members of each room are
// spread over the three nodes.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
