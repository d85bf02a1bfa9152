// Receipts for SINGLE packets we sent (rns-wire.md §11): full packet hash + the recipient's public key, settled
// by a valid proof or failed after a timeout of about per-hop × (hops + 1). A proof only says the recipient's
// Reticulum layer decrypted the packet — the chunk sender above uses it to stop retransmitting.
import { validateProof } from './proof.js';
import type { RnsPacket } from './packet.js';


export type ReceiptOutcome = 'delivered' | 'timeout' | 'cancelled';

interface Pending {
  packetHash: Buffer;
  recipientPublicKey: Buffer;
  timer: NodeJS.Timeout;
  settle: (o: ReceiptOutcome) => void;
}

export class ReceiptTable {
  private readonly pending = new Map<string, Pending>();

  /** Resolves once: delivered on a valid proof, timeout after `timeoutMs`. */
  track(packetHash: Buffer, recipientPublicKey: Buffer, timeoutMs: number): Promise<ReceiptOutcome> {
    const key = packetHash.subarray(0, 16).toString('hex');
    return new Promise<ReceiptOutcome>((resolve) => {
      const settle = (o: ReceiptOutcome): void => {
        const p = this.pending.get(key);
        if (!p) return;
        clearTimeout(p.timer);
        this.pending.delete(key);
        resolve(o);
      };
      const timer = setTimeout(() => settle('timeout'), timeoutMs);
      timer.unref();
      this.pending.set(key, { packetHash, recipientPublicKey, timer, settle });
    });
  }

  /** Match a PROOF packet against the receipts; true when it settled one. */
  onProof(proof: RnsPacket): boolean {
    const p = this.pending.get(proof.destinationHash.toString('hex'));
    if (!p || !validateProof(proof, p.packetHash, p.recipientPublicKey)) return false;
    p.settle('delivered');
    return true;
  }

  cancelAll(): void {
    for (const p of [...this.pending.values()]) p.settle('cancelled');
  }

  get size(): number {
    return this.pending.size;
  }
}
