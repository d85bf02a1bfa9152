// Types of actors/crypto-worker.mjs (the crypto pool's worker thread): what the pool sends and gets back.
export interface VerifyJob {
  /** SPKI DER of the author's public key. */
  der: Uint8Array;
  /** Hex signature. */
  sig: string;
  /** Signature payload strings the signature may cover (gate events: the §4.4 variants). */
  msgs: string[];
  ecdsa: boolean;
}

export interface SignJob {
  seed: Uint8Array;
  msg: string;
}

/** Signing work: each distinct 32-byte seed travels once; `seedOf[i]` is the index in `seeds` for `msgs[i]`. */
export interface SignTask {
  op: 'sign';
  seeds: Uint8Array[];
  seedOf: number[];
  msgs: string[];
}

export type CryptoTask = { op: 'verify'; jobs: VerifyJob[] } | SignTask;
/** verify: one byte per job (1 = valid); sign: the 64-byte Ed25519 signatures back to back, in order. */
export type CryptoResult = Uint8Array;

export function runCryptoTask(task: CryptoTask): CryptoResult;
export default runCryptoTask;
