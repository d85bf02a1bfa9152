// Client of a running node's local API, found through its data directory (<data>/api.json + <data>/api.token).
// It never opens the node's database: when no node is running there it says so.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, InfonetError, type ErrorCode } from '../protocol/errors.js';
import { API_INFO_FILE, API_TOKEN_FILE } from './local-api.js';

export interface ApiTarget {
  url: string;
  token: string;
}

export function apiTargetOf(dataDir: string): ApiTarget {
  const info = join(dataDir, API_INFO_FILE);
  if (!existsSync(info)) {
    throw new InfonetError(ErrorCodes.UNAVAILABLE, `no running node owns ${dataDir} (no ${API_INFO_FILE}); start it with \`infonet node run --data ${dataDir}\` — MLS commands only talk to the running node`);
  }
  const { url } = JSON.parse(readFileSync(info, 'utf8')) as { url: string };
  return { url, token: readFileSync(join(dataDir, API_TOKEN_FILE), 'utf8').trim() };
}

export async function callApi<T = Record<string, unknown>>(target: ApiTarget, command: string, body: unknown = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}/api/v1/${command}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
  } catch (e) {
    throw new InfonetError(ErrorCodes.UNAVAILABLE, `node API at ${target.url} is not reachable (${(e as Error).message}); is the node running?`);
  }
  const out = (await res.json().catch(() => ({}))) as { ok?: boolean; result?: T; error?: { code: ErrorCode; reason: string; details?: Record<string, unknown> } };
  if (!out.ok) throw new InfonetError(out.error?.code ?? ErrorCodes.INTERNAL, out.error?.reason ?? `HTTP ${res.status}`, out.error?.details);
  return out.result as T;
}
