import crypto from 'node:crypto';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let counter = 0;
// Ids in the extension's style: user_xxxxxxx, default_room_<ms>, plus a unique suffix.
export function userId(tag = 'u') {
  return `user_${tag}${crypto.randomBytes(4).toString('hex')}${counter++}`;
}
export function roomId(tag = 'room') {
  return `${tag}_${Date.now()}_${crypto.randomBytes(3).toString('hex')}${counter++}`;
}

export async function eventually(check, { timeoutMs = 3000, intervalMs = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== false && value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}` +
    (lastError ? `: ${lastError.message}` : ''));
}
