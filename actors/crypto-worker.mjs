// @ts-check
// The crypto pool's worker (one per core, a plain worker_threads Worker started by actors/crypto-pool.ts): Ed25519/ECDSA signature checks and Ed25519
// signing with node:crypto, KeyObjects cached per key. It only sees bytes and strings prepared by the
// pool (actors/crypto-pool.ts), so it needs no protocol rules. Plain JavaScript on purpose: a worker
// thread does not inherit the parent's TypeScript loader, and registering tsx in each worker cost
// seconds per start (measured); the types it implements are in crypto-worker.d.mts.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
// Bounded caches: keys arrive from outsiders (received events), so the maps are cleared when full.
const PUBLIC_KEYS_MAX = 20_000;
const SIGNERS_MAX = 1_000;
/** @type {Map<string, import('node:crypto').KeyObject>} */
const publicKeys = new Map();
/** @type {Map<string, import('node:crypto').KeyObject>} */
const signers = new Map();

/** @param {Uint8Array} der */
function publicKeyOf(der) {
  const id = Buffer.from(der).toString('base64');
  let k = publicKeys.get(id);
  if (!k) {
    k = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    if (publicKeys.size >= PUBLIC_KEYS_MAX) publicKeys.clear();
    publicKeys.set(id, k);
  }
  return k;
}

/** @param {Uint8Array} seed */
function signerOf(seed) {
  const id = Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString('hex');
  let k = signers.get(id);
  if (!k) {
    k = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seed)]), format: 'der', type: 'pkcs8' });
    if (signers.size >= SIGNERS_MAX) signers.clear();
    signers.set(id, k);
  }
  return k;
}

/** @param {import('./crypto-worker.d.mts').VerifyJob} j */
function verifyOne(j) {
  try {
    const key = publicKeyOf(j.der);
    const sig = Buffer.from(j.sig, 'hex');
    if (!j.ecdsa && sig.length !== 64) return false;
    return j.msgs.some((m) => (j.ecdsa
      ? verify('sha256', Buffer.from(m), { key, dsaEncoding: 'der' }, sig)
      : verify(null, Buffer.from(m), key, sig)));
  } catch {
    return false;
  }
}

/** @type {typeof import('./crypto-worker.d.mts').runCryptoTask} */
export function runCryptoTask(task) {
  if (task.op === 'sign') {
    const keys = task.seeds.map(signerOf);
    const out = new Uint8Array(64 * task.msgs.length);
    task.msgs.forEach((m, i) => { out.set(sign(null, Buffer.from(m), keys[task.seedOf[i]]), 64 * i); });
    return out;
  }
  const out = new Uint8Array(task.jobs.length);
  task.jobs.forEach((j, i) => { out[i] = verifyOne(j) ? 1 : 0; });
  return out;
}

export default runCryptoTask;

// As a worker: `{ id, task }` in, `{ id, result }` or `{ id, error }` out; the result's buffer is transferred, not copied.
if (parentPort) {
  const port = parentPort;
  port.on('message', (/** @type {{ id: number, task: import('./crypto-worker.d.mts').CryptoTask }} */ { id, task }) => {
    let result;
    try {
      result = runCryptoTask(task);
    } catch (e) {
      port.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
      return;
    }
    port.postMessage({ id, result }, [result.buffer]);
  });
}
