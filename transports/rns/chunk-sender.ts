// Sending side of §14: a small window of chunks in flight, each tracked by its receipt; a chunk whose proof is
// missing after the receipt timeout is sent again as a FRESHLY encrypted packet (a byte-identical resend would
// be dropped by every duplicate filter on the way, §4). After `maxTries` for one chunk the whole message fails.
import type { ReceiptOutcome } from './receipts.js';

export interface ChunkSendPolicy {
  window: number;
  maxTries: number;
}

export const DEFAULT_CHUNK_SEND_POLICY: ChunkSendPolicy = { window: 4, maxTries: 5 };

/** Encrypts and transmits one chunk now; resolves when its receipt settles. Throws when it cannot be sent at all. */
export type TransmitChunk = (chunk: Buffer) => Promise<ReceiptOutcome>;

export class ChunkSendFailed extends Error {
  constructor(readonly index: number, readonly tries: number, readonly lastOutcome: ReceiptOutcome | 'error', cause?: unknown) {
    super(`chunk ${index} not proven after ${tries} tries (${lastOutcome})`, { cause });
  }
}

export async function sendChunks(chunks: readonly Buffer[], transmit: TransmitChunk, policy: ChunkSendPolicy = DEFAULT_CHUNK_SEND_POLICY, isCancelled: () => boolean = () => false): Promise<{ transmissions: number }> {
  let next = 0;
  let transmissions = 0;
  let failure: ChunkSendFailed | null = null;

  const worker = async (): Promise<void> => {
    while (failure === null && next < chunks.length) {
      const index = next++;
      let tries = 0;
      let last: ReceiptOutcome;
      for (;;) {
        if (failure !== null || isCancelled()) return;
        tries++;
        transmissions++;
        try {
          last = await transmit(chunks[index]);
        } catch (e) {
          // Could not even be sent (no path, interface down): retrying at once cannot help; the caller decides.
          failure = new ChunkSendFailed(index, tries, 'error', e);
          return;
        }
        if (last === 'delivered') break;
        if (last === 'cancelled' || tries >= policy.maxTries) {
          failure = new ChunkSendFailed(index, tries, last);
          return;
        }
      }
    }
  };

  await Promise.all(Array.from({ length: Math.min(policy.window, chunks.length) }, worker));
  if (failure) throw failure;
  return { transmissions };
}
