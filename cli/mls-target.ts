// How the MLS CLI commands reach the running node: its local API, found through --data DIR (api.json + api.token;
// the database is never opened) or given as --api URL --token-file FILE.
import { readFileSync } from 'node:fs';
import { apiTargetOf, type ApiTarget } from '../api/client.js';
import { readJsonFile, reportError, UsageError } from './args.js';

export const TARGET_OPTIONS = {
  data: { type: 'string' },
  api: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export function targetFrom(values: { data?: string; api?: string; 'token-file'?: string }): ApiTarget {
  if (values.api) {
    if (!values['token-file']) throw new UsageError('--api needs --token-file FILE (the node\'s <data>/api.token)');
    return { url: values.api.replace(/\/$/, ''), token: readFileSync(values['token-file'], 'utf8').trim() };
  }
  if (!values.data) throw new UsageError('give --data DIR of the running node (or --api URL --token-file FILE)');
  return apiTargetOf(values.data);
}

export function readSecret(file: string | undefined, envName: string): string {
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  const v = process.env[envName];
  if (!v) throw new UsageError(`give --passphrase-file FILE or set ${envName}`);
  return v;
}

export const requireFlag = (v: string | undefined, flag: string): string => {
  if (!v) throw new UsageError(`${flag} is required`);
  return v;
};

/** The three fields an invitee's key-package file (`… key-package --out FILE`) hands to the inviter's API call. */
export function keyPackageFile(path: string): { mls_key_package: unknown; welcome_dh_pub: unknown; recipient_id: unknown } {
  const kp = readJsonFile(path) as Record<string, unknown>;
  return { mls_key_package: kp.mls_key_package, welcome_dh_pub: kp.welcome_dh_pub, recipient_id: kp.recipient_id };
}

/** `infonet gate …` and `infonet dm session …`: bare/help prints the usage (exit 2 bare, 0 asked), errors map to exit codes. */
export async function runVerbCommand(args: string[], usage: string, run: (verb: string, rest: string[]) => Promise<number>): Promise<number> {
  const [verb, ...rest] = args;
  if (!verb || verb === '--help' || verb === 'help') {
    process.stdout.write(usage);
    return verb ? 0 : 2;
  }
  try {
    return await run(verb, rest);
  } catch (e) {
    return reportError(e);
  }
}
