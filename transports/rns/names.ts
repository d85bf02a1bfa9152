// Name hashes and destination hashes (rns-wire.md §6). The identity is not part of the hashed name.
import { createHash } from 'node:crypto';
import { NAME_HASH_BYTES, TRUNCATED_HASH_BYTES } from './constants.js';

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

export const INFONET_NODE_NAME = 'infonet.node';
export const PATH_REQUEST_NAME = 'rnstransport.path.request';

export function nameHash(name: string): Buffer {
  for (const part of name.split('.')) if (part === '') throw new RangeError(`bad destination name: ${name}`);
  return sha256(Buffer.from(name, 'utf8')).subarray(0, NAME_HASH_BYTES);
}

/** SINGLE: `H16(name_hash ‖ identity_hash)`. */
export const singleDestinationHash = (name: string | Buffer, identityHash: Buffer): Buffer =>
  sha256(Buffer.concat([typeof name === 'string' ? nameHash(name) : name, identityHash])).subarray(0, TRUNCATED_HASH_BYTES);

/** PLAIN: `H16(name_hash)`. */
export const plainDestinationHash = (name: string): Buffer => sha256(nameHash(name)).subarray(0, TRUNCATED_HASH_BYTES);

export const PATH_REQUEST_DESTINATION = plainDestinationHash(PATH_REQUEST_NAME);
export const INFONET_NODE_NAME_HASH = nameHash(INFONET_NODE_NAME);
