// §6: keys that betray a leaky client putting readable content into a private event. Checked on the
// raw caller payload before normalisation (which would silently drop them). [tightening] the same four
// keys on both the gate and the DM path.
export const PLAINTEXT_BAIT_KEYS: readonly string[] = ['message', 'plaintext', '_local_plaintext', '_local_reply_to'];

export function hasPlaintextBait(payload: Record<string, unknown>): boolean {
  for (const k of PLAINTEXT_BAIT_KEYS) if (Object.prototype.hasOwnProperty.call(payload, k)) return true;
  return false;
}
