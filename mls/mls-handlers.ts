// One table of MLS commands → owner operations. The bus (bus/mls-commands.ts) and the local HTTP API
// (api/local-api.ts) both serve exactly this table, so a command means the same thing on either surface.
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { sealBackup } from './mls-backup.js';
import type { MlsOwner } from './mls-owner.js';

export const MLS_COMMANDS = [
  'gate.create', 'gate.key_package', 'gate.invite', 'gate.accept', 'gate.post', 'gate.read', 'gate.rotate', 'gate.remove',
  'gate.list', 'gate.show', 'gate.pending',
  'dm_session.key_package', 'dm_session.create', 'dm_session.accept', 'dm_session.send', 'dm_session.read', 'dm_session.reset',
  'mls.export', 'mls.status',
] as const;
export type MlsCommand = (typeof MLS_COMMANDS)[number];
export type MlsHandler = (body: unknown) => Promise<unknown>;

const record = (v: unknown): Record<string, unknown> => {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) throw new InfonetError(ErrorCodes.BAD_INPUT, 'body must be a map');
  return v as Record<string, unknown>;
};

export function mlsHandlers(owner: MlsOwner): Record<MlsCommand, MlsHandler> {
  return {
    'gate.create': (b) => owner.create(record(b)),
    'gate.key_package': (b) => owner.keyPackage({ ...record(b), purpose: 'gate' }),
    'gate.invite': (b) => owner.invite(record(b)),
    'gate.accept': (b) => owner.accept(record(b)),
    'gate.post': (b) => owner.post(record(b)),
    'gate.read': (b) => owner.read(record(b)),
    'gate.rotate': (b) => owner.rotate(record(b)),
    'gate.remove': (b) => owner.remove(record(b)),
    'gate.list': () => owner.list(),
    'gate.show': (b) => owner.show(record(b).gate),
    'gate.pending': (b) => owner.pending(record(b)),
    'dm_session.key_package': (b) => owner.keyPackage({ ...record(b), purpose: 'dm' }),
    'dm_session.create': (b) => owner.sessionCreate(record(b)),
    'dm_session.accept': (b) => owner.sessionRead(record(b)),
    'dm_session.send': (b) => owner.sessionSend(record(b)),
    'dm_session.read': (b) => owner.sessionRead(record(b)),
    'dm_session.reset': () => owner.sessionReset(),
    'mls.export': async (b) => {
      const passphrase = String(record(b).passphrase ?? '');
      if (passphrase.length < 8) throw new InfonetError(ErrorCodes.BAD_INPUT, 'passphrase must be at least 8 characters');
      return { ok: true, backup: sealBackup(await owner.snapshotRecords(), passphrase) };
    },
    'mls.status': async () => owner.status(),
  };
}
