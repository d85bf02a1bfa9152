// The ts-mls (RFC 9420) wrapper: every MLS operation the node uses, bytes in and bytes out, so the owner never
// touches ts-mls types and the stored state is the library's own TLS encoding (encodeGroupState). One ciphersuite:
// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (no optional dependencies).
import {
  createApplicationMessage, createCommit, createGroup, decodeGroupState, decodeMlsMessage, defaultCapabilities,
  defaultLifetime, emptyPskIndex, encodeGroupState, encodeMlsMessage, generateKeyPackageWithKey, getCiphersuiteFromName,
  getCiphersuiteImpl, joinGroup, processPrivateMessage,
  type CiphersuiteImpl, type ClientState, type KeyPackage, type PrivateKeyPackage, type Proposal,
} from 'ts-mls';
import { defaultClientConfig } from 'ts-mls/clientConfig.js';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';

export const CIPHERSUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;

let suite: Promise<CiphersuiteImpl> | undefined;
export const cipherSuite = (): Promise<CiphersuiteImpl> => (suite ??= getCiphersuiteImpl(getCiphersuiteFromName(CIPHERSUITE)));

const enc = new TextEncoder();
const dec = new TextDecoder();

const bad = (reason: string): never => {
  throw new InfonetError(ErrorCodes.BAD_INPUT, reason);
};

export interface SignatureKeys {
  publicKey: Uint8Array;
  signKey: Uint8Array;
}

export interface KeyPackagePair {
  /** encodeMlsMessage(mls_key_package): what is shared. */
  publicBytes: Uint8Array;
  privatePackage: PrivateKeyPackage;
}

export const newSignatureKeys = async (): Promise<SignatureKeys> => (await cipherSuite()).signature.keygen();

export async function newKeyPackage(identity: string, keys: SignatureKeys): Promise<KeyPackagePair> {
  const cs = await cipherSuite();
  const kp = await generateKeyPackageWithKey({ credentialType: 'basic', identity: enc.encode(identity) }, defaultCapabilities(), defaultLifetime, [], keys, cs);
  return { publicBytes: encodeMlsMessage({ keyPackage: kp.publicPackage, wireformat: 'mls_key_package', version: 'mls10' }), privatePackage: kp.privatePackage };
}

/** Outsider bytes that are not an MLS message at all decode to undefined (the caller names what it expected). */
function decodeLenient(bytes: Uint8Array): NonNullable<ReturnType<typeof decodeMlsMessage>>[0] | undefined {
  try {
    return decodeMlsMessage(bytes, 0)?.[0];
  } catch {
    return undefined;
  }
}

export function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  const d = decodeLenient(bytes);
  if (!d || d.wireformat !== 'mls_key_package') return bad('not an MLS key package');
  return d.keyPackage;
}

export function encodeState(state: ClientState): Uint8Array {
  return encodeGroupState(state);
}

/** Throws when the bytes are not a group state (the caller turns that into a locked gate). */
export function decodeState(bytes: Uint8Array): ClientState {
  const d = decodeGroupState(bytes, 0);
  if (!d || d[1] !== bytes.length) throw new Error('stored MLS group state does not decode');
  return { ...d[0], clientConfig: defaultClientConfig };
}

export const epochOf = (s: ClientState): number => Number(s.groupContext.epoch);
export const groupIdOf = (s: ClientState): string => dec.decode(s.groupContext.groupId);
export const isActive = (s: ClientState): boolean => s.groupActiveState.kind === 'active';

/** Credential identities of the current members (leaf order). */
export function memberIdentities(s: ClientState): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.ratchetTree.length; i += 2) {
    const n = s.ratchetTree[i];
    if (n && n.nodeType === 'leaf' && n.leaf.credential.credentialType === 'basic') out.push(dec.decode(n.leaf.credential.identity));
  }
  return out;
}

function leafIndexOf(s: ClientState, identity: string): number | undefined {
  for (let i = 0; i < s.ratchetTree.length; i += 2) {
    const n = s.ratchetTree[i];
    if (n && n.nodeType === 'leaf' && n.leaf.credential.credentialType === 'basic' && dec.decode(n.leaf.credential.identity) === identity) return i / 2;
  }
  return undefined;
}

export async function newGroup(groupId: string, identity: string, keys: SignatureKeys): Promise<ClientState> {
  const cs = await cipherSuite();
  const kp = await generateKeyPackageWithKey({ credentialType: 'basic', identity: enc.encode(identity) }, defaultCapabilities(), defaultLifetime, [], keys, cs);
  return createGroup(enc.encode(groupId), kp.publicPackage, kp.privatePackage, [], cs);
}

export interface CommitOut {
  state: ClientState;
  /** encodeMlsMessage of the commit (a PrivateMessage of the old epoch). */
  commit: Uint8Array;
  welcome?: Uint8Array;
}

async function commit(state: ClientState, proposals: Proposal[]): Promise<CommitOut> {
  const cs = await cipherSuite();
  const r = await createCommit({ state, cipherSuite: cs }, { extraProposals: proposals, ratchetTreeExtension: true });
  return {
    state: r.newState,
    commit: encodeMlsMessage(r.commit),
    ...(r.welcome ? { welcome: encodeMlsMessage({ welcome: r.welcome, wireformat: 'mls_welcome', version: 'mls10' }) } : {}),
  };
}

export async function addMembers(state: ClientState, keyPackages: Uint8Array[]): Promise<CommitOut> {
  const props: Proposal[] = keyPackages.map((b) => ({ proposalType: 'add', add: { keyPackage: decodeKeyPackage(b) } }));
  return commit(state, props);
}

export async function removeMember(state: ClientState, identity: string): Promise<CommitOut> {
  const leaf = leafIndexOf(state, identity);
  if (leaf === undefined) return bad(`no member ${identity} in this group`);
  return commit(state, [{ proposalType: 'remove', remove: { removed: leaf } } as Proposal]);
}

/** An empty commit with an UpdatePath: new epoch, fresh keys (§11.2 "rotate"). */
export const rotate = (state: ClientState): Promise<CommitOut> => commit(state, []);

export async function join(welcome: Uint8Array, publicKeyPackage: Uint8Array, privatePackage: PrivateKeyPackage): Promise<ClientState> {
  const cs = await cipherSuite();
  const d = decodeMlsMessage(welcome, 0)?.[0];
  if (!d || d.wireformat !== 'mls_welcome') return bad('not an MLS Welcome');
  return joinGroup(d.welcome, decodeKeyPackage(publicKeyPackage), privatePackage, emptyPskIndex, cs);
}

export async function encryptApplication(state: ClientState, plaintext: Uint8Array): Promise<{ state: ClientState; message: Uint8Array }> {
  const cs = await cipherSuite();
  const r = await createApplicationMessage(state, plaintext, cs);
  return { state: r.newState, message: encodeMlsMessage({ privateMessage: r.privateMessage, wireformat: 'mls_private_message', version: 'mls10' }) };
}

/** Group id and epoch a PrivateMessage claims, read from its clear header. */
export function peekPrivateMessage(bytes: Uint8Array): { groupId: string; epoch: number } {
  const d = decodeLenient(bytes);
  if (!d || d.wireformat !== 'mls_private_message') return bad('not an MLS private message');
  return { groupId: dec.decode(d.privateMessage.groupId), epoch: Number(d.privateMessage.epoch) };
}

export type Processed =
  | { kind: 'application'; state: ClientState; plaintext: Uint8Array }
  | { kind: 'commit'; state: ClientState };

export async function processMessage(state: ClientState, bytes: Uint8Array): Promise<Processed> {
  const cs = await cipherSuite();
  const d = decodeMlsMessage(bytes, 0)?.[0];
  if (!d || d.wireformat !== 'mls_private_message') return bad('not an MLS private message');
  const r = await processPrivateMessage(state, d.privateMessage, emptyPskIndex, cs);
  return r.kind === 'applicationMessage' ? { kind: 'application', state: r.newState, plaintext: r.message } : { kind: 'commit', state: r.newState };
}
