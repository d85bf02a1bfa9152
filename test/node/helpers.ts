// Shared fixtures for node tests: temp data dirs, silent loggers, a well-formed message payload.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { InfonetNode, type InfonetNodeOptions } from '../../node/infonet-node.js';

const dirs = new Set<string>();

export function tempDataDir(prefix = 'infonet-node-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

export const silentLogger = () => pino({ level: 'silent' });

export function startNode(opts: Partial<InfonetNodeOptions> = {}): Promise<InfonetNode> {
  return InfonetNode.start({ dataDir: opts.dataDir ?? tempDataDir(), logger: silentLogger(), ...opts });
}

export function messagePayload(i: number): Record<string, unknown> {
  return { message: `hello ${i}`, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false };
}

export const sealed = (): string => randomBytes(48).toString('base64');
