// Types of actors/crypto-worker.mjs (the piscina worker): what the pool sends and gets back.
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

export type CryptoTask = { op: 'verify'; jobs: VerifyJob[] } | { op: 'sign'; jobs: SignJob[] };
/** verify: one byte per job (1 = valid); sign: one hex signature per job. */
export type CryptoResult = Uint8Array | string[];

export function runCryptoTask(task: CryptoTask): CryptoResult;
export default runCryptoTask;
