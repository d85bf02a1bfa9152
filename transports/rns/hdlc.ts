// Simplified HDLC framing of a Reticulum TCP stream (rns-wire.md §2): 0x7E flags, 0x7D escapes, no address,
// control or checksum. The reader is a streaming state machine because TCP splits frames anywhere, even
// between 0x7D and the escaped byte.
import { HEADER_1_SIZE, TCP_HW_MTU } from './constants.js';

const FLAG = 0x7e;
const ESC = 0x7d;
const ESC_MASK = 0x20;

/** `0x7E ‖ escape(raw) ‖ 0x7E`; single pass, which equals "escape 7D first, then 7E" (§2). */
export function hdlcFrame(raw: Uint8Array): Buffer {
  let extra = 0;
  for (const b of raw) if (b === FLAG || b === ESC) extra++;
  const out = Buffer.allocUnsafe(raw.length + extra + 2);
  let o = 0;
  out[o++] = FLAG;
  for (const b of raw) {
    if (b === FLAG || b === ESC) {
      out[o++] = ESC;
      out[o++] = b ^ ESC_MASK;
    } else out[o++] = b;
  }
  out[o++] = FLAG;
  return out;
}

/**
 * Streaming unframer. Bytes before the first flag are discarded; a closing flag may open the next frame;
 * frames of unescaped length ≤ 19 or > HW MTU are dropped; a frame that never closes is discarded once it
 * exceeds twice the HW MTU (the reference's bound), so a peer cannot grow our buffer without limit.
 */
export class HdlcDecoder {
  private inFrame = false;
  private escaped = false;
  private buf: Buffer;
  private len = 0;
  private overflow = false;

  constructor(private readonly maxFrame = TCP_HW_MTU) {
    this.buf = Buffer.allocUnsafe(1024);
  }

  /** Feed bytes; returns the complete packets they finished. */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    for (const b of chunk) {
      if (b === FLAG) {
        if (this.inFrame && !this.overflow && this.len > HEADER_1_SIZE && this.len <= this.maxFrame) {
          out.push(Buffer.from(this.buf.subarray(0, this.len)));
        }
        this.inFrame = true;
        this.escaped = false;
        this.len = 0;
        this.overflow = false;
        continue;
      }
      if (!this.inFrame || this.overflow) continue;
      let v = b;
      if (this.escaped) {
        v = b ^ ESC_MASK;
        this.escaped = false;
      } else if (b === ESC) {
        this.escaped = true;
        continue;
      }
      if (this.len >= 2 * this.maxFrame) {
        // Discard the run; wait for the next flag to resynchronise.
        this.overflow = true;
        this.len = 0;
        continue;
      }
      if (this.len === this.buf.length) {
        const bigger = Buffer.allocUnsafe(Math.min(this.buf.length * 2, 2 * this.maxFrame));
        this.buf.copy(bigger, 0, 0, this.len);
        this.buf = bigger;
      }
      this.buf[this.len++] = v;
    }
    return out;
  }

  /** Bytes held for an unfinished frame (for tests of the bound). */
  get buffered(): number {
    return this.len;
  }
}
