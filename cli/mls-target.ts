// How the MLS CLI commands reach the running node: its local API, found through --data DIR (api.json + api.token;
// the database is never opened) or given as --api URL --token-file FILE.
import { readFileSync } from 'node:fs';
import { apiTargetOf, type ApiTarget } from '../api/client.js';
import { UsageError } from './args.js';

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
