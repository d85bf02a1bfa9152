// DM sealing for users: the sealed output passes the §5.4 sealed-bytes check and opens only with the
// recipient's secret key.
import { generateDmKeypair, openDm, sealDm } from '../../protocol/dm-seal.js';
import { checkSealedBytes } from '../../protocol/sealed-bytes.js';

/** §5.4 for prefixed values, restated from the spec (table A.7): known prefix + strict base64 + ≥ 8 bytes. */
function passesPrefixedSealedBytes(v: string): boolean {
  const m = /^(x3dh1:|dm1:|mls1:|sealed:)(.*)$/i.exec(v.trim());
  if (!m) return false;
  const body = m[2];
  if (!body || /\s/.test(body)) return false;
  const padded = body + '='.repeat((4 - (body.length % 4)) % 4);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(padded)) return false;
  return Buffer.from(padded, 'base64').length >= 8;
}

test('seal → open round trip; output has an accepted sealed-bytes prefix', () => {
  const bob = generateDmKeypair();
  const sealed = sealDm('hello bob, this is a secret', bob.public_key);
  expect(sealed.startsWith('sealed:')).toBe(true);
  expect(passesPrefixedSealedBytes(sealed)).toBe(true);
  expect(checkSealedBytes(sealed, 'ciphertext')).toBeNull();
  expect(openDm(sealed, bob.secret_key)).toBe('hello bob, this is a secret');
  // A.7 rows for the prefix as sanity for the restated check.
  expect(passesPrefixedSealedBytes('sealed:MTIzNDU2Nzg=')).toBe(true);
  expect(passesPrefixedSealedBytes('SEALED:MTIzNDU2Nzg=')).toBe(true);
  expect(passesPrefixedSealedBytes('mls1:not base64!')).toBe(false);
  expect(passesPrefixedSealedBytes('dm1:')).toBe(false);
});

test('each seal uses a fresh ephemeral key and nonce; wrong key and tampering fail', () => {
  const bob = generateDmKeypair();
  const eve = generateDmKeypair();
  const a = sealDm('same', bob.public_key);
  const b = sealDm('same', bob.public_key);
  expect(a).not.toBe(b);
  expect(() => openDm(a, eve.secret_key)).toThrow(/wrong key or tampered/);
  const raw = Buffer.from(a.slice('sealed:'.length), 'base64');
  raw[raw.length - 1] ^= 1;
  expect(() => openDm('sealed:' + raw.toString('base64'), bob.secret_key)).toThrow(/wrong key or tampered/);
  expect(() => openDm('mls1:AAAA', bob.secret_key)).toThrow(/prefix/);
});

test('a seal of 6000 bytes stays under the 8192-character relay limit', () => {
  const bob = generateDmKeypair();
  expect(sealDm('x'.repeat(6000), bob.public_key).length).toBeLessThanOrEqual(8192);
});
