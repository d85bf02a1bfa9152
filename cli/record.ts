// `infonet record` and `infonet replay`: capture bus traffic into a portable file (bus/recorder.ts,
// bus/recording-format.ts) and re-issue it against a node — a fresh one by default — reporting differing replies and
// whether the final chain head matches (bus/replay.ts). Both take --nats URL --creds FILE (docs/bus-auth.md); an
// operator credential may record only its own node's subjects: pass --subjects 'infonet.<node>.>'.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeSafe, requestTyped } from '../bus/codec.js';
import { splitCommand, type ChainStatus } from '../bus/commands.js';
import { startRecorder } from '../bus/recorder.js';
import { readRecordingFile, type Recording } from '../bus/recording-format.js';
import { replayRecording, type AfterReplayResult, type ReplayOptions, type ReplaySpeed } from '../bus/replay.js';
import { elapsed, untilStopped } from '../bus/stop-signal.js';
import { ALL_SUBJECTS, cmdSubject, encodeNodeToken, parseSubject, withNode } from '../bus/subjects.js';
import { defaultLogger, InfonetNode } from '../node/infonet-node.js';
import { connectFromArgs } from './connect.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}
const defaultIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

function defaultNatsUrl(): string {
  return process.env.INFONET_NATS_URL ?? 'nats://127.0.0.1:4222';
}

/** The bus connection both `record` and `replay` open (--nats, else the default URL); a failure is reported as `<cmd>: …`. */
async function connectOrReport(io: CliIo, cmd: string, v: { nats?: string; creds?: string }, name: string): Promise<{ nc: NatsConnection; url: string } | undefined> {
  const url = v.nats ?? defaultNatsUrl();
  try {
    return { nc: await connectFromArgs({ nats: url, creds: v.creds, name }), url };
  } catch (e) {
    io.err(`${cmd}: ${(e as Error).message}`);
    return undefined;
  }
}

function untilSignalOrTimeout(durationS: number | undefined, extra?: Promise<void>): Promise<string> {
  return untilStopped({ duration: durationS === undefined ? undefined : elapsed(durationS), stopped: extra });
}

/**
 * `infonet record --out FILE [--nats URL] [--subjects a,b] [--duration-s N] [--js-domain D] [--stream NAME]
 *  [--memory] [--keep-stream]`. Records until SIGINT/SIGTERM or the duration; returns the exit code.
 * `stopSignal` lets tests/embedders end the recording without signals.
 */
export async function recordCommand(args: string[], io: CliIo = defaultIo, stopSignal?: Promise<void>): Promise<number> {
  let v;
  try {
    ({ values: v } = parseArgs({
      args,
      options: {
        out: { type: 'string' },
        nats: { type: 'string' },
        creds: { type: 'string' },
        subjects: { type: 'string' },
        'duration-s': { type: 'string' },
        'js-domain': { type: 'string' },
        stream: { type: 'string' },
        memory: { type: 'boolean' },
        'keep-stream': { type: 'boolean' },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    io.err(`record: ${(e as Error).message}`);
    return 2;
  }
  if (!v.out) {
    io.err('usage: infonet record --out FILE [--nats URL] [--creds FILE] [--subjects a,b] [--duration-s N] [--js-domain D] [--memory]');
    return 2;
  }
  const duration = v['duration-s'] !== undefined ? Number(v['duration-s']) : undefined;
  if (duration !== undefined && !(duration > 0)) {
    io.err(`record: --duration-s must be a positive number`);
    return 2;
  }
  const subjects = (v.subjects ?? ALL_SUBJECTS).split(',').map((s) => s.trim()).filter(Boolean);
  const conn = await connectOrReport(io, 'record', v, 'infonet-recorder');
  if (!conn) return 1;
  const { nc, url } = conn;
  try {
    const recorder = await startRecorder({
      nc,
      subjects,
      jsDomain: v['js-domain'],
      streamName: v.stream,
      store: v.memory ? 'memory' : 'auto',
    });
    io.err(
      `recording ${subjects.join(', ')} from ${url} into ${recorder.store === 'jetstream' ? `stream ${recorder.streamName}` : 'memory'}` +
        (duration ? ` for ${duration} s` : '') + ' (Ctrl-C to stop)',
    );
    const progress = setInterval(() => {
      const c = recorder.count();
      io.err(`  ${c.total} captured (${c.cmd} cmd, ${c.reply} reply, ${c.evt} evt)`);
    }, 5000);
    progress.unref();
    const why = await untilSignalOrTimeout(duration, stopSignal);
    clearInterval(progress);
    await recorder.stop();
    const rec = await recorder.exportRecording(v.out);
    await recorder.close({ keepStream: !!v['keep-stream'] });
    const c = recorder.count();
    io.out(`wrote ${rec.entries.length} entries (${c.cmd} cmd, ${c.reply} reply, ${c.evt} evt) to ${v.out} [${why}]`);
    return 0;
  } catch (e) {
    io.err(`record: ${(e as Error).message}`);
    return 1;
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

export interface ReplayCommandHooks {
  afterReplay?: (nc: NatsConnection) => Promise<AfterReplayResult>;
  normalize?: ReplayOptions['normalize'];
}

/**
 * `infonet replay FILE [--nats URL] [--speed original|max|N] [--timeout-ms N] [--to-node ID]`.
 * Exit code 0 when every reply matches (and the head matches, if checked), 1 on differences, 2 on usage errors.
 */
export async function replayCommand(args: string[], io: CliIo = defaultIo, hooks: ReplayCommandHooks = {}): Promise<number> {
  let v;
  let positionals: string[];
  try {
    ({ values: v, positionals } = parseArgs({
      args,
      options: {
        nats: { type: 'string' },
        creds: { type: 'string' },
        speed: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'to-node': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
      },
      allowPositionals: true,
    }));
  } catch (e) {
    io.err(`replay: ${(e as Error).message}`);
    return 2;
  }
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    io.err('usage: infonet replay FILE [--nats URL] [--creds FILE] [--speed original|max|N] [--timeout-ms N] [--to-node ID]');
    return 2;
  }
  let speed: ReplaySpeed = 'max';
  if (v.speed !== undefined) {
    if (v.speed === 'original' || v.speed === 'max') speed = v.speed;
    else if (Number(v.speed) > 0) speed = Number(v.speed);
    else {
      io.err(`replay: --speed must be original, max or a positive number`);
      return 2;
    }
  }
  const timeoutMs = v['timeout-ms'] !== undefined ? Number(v['timeout-ms']) : 5000;
  let rewriteSubject: ((s: string) => string) | undefined;
  if (v['to-node']) {
    const target = v['to-node'];
    try {
      encodeNodeToken(target);
    } catch (e) {
      io.err(`replay: ${(e as Error).message}`);
      return 2;
    }
    rewriteSubject = (s) => withNode(s, target);
  }
  let recording: Recording;
  try {
    recording = await readRecordingFile(file);
  } catch (e) {
    io.err(`replay: ${(e as Error).message}`);
    return 2;
  }
  const conn = await connectOrReport(io, 'replay', v, 'infonet-replay');
  if (!conn) return 1;
  const { nc, url } = conn;
  try {
    const total = recording.entries.filter((e) => e.kind === 'cmd').length;
    io.err(`replaying ${total} commands from ${file} against ${url} (speed ${speed})`);
    const res = await replayRecording({
      recording,
      nc,
      speed,
      timeoutMs,
      rewriteSubject,
      normalize: hooks.normalize,
      afterReplay: hooks.afterReplay ? () => hooks.afterReplay!(nc) : undefined,
      onProgress: (p) => {
        if (v.verbose || p.differs) io.err(`  [${p.index + 1}/${p.total}] ${p.subject}${p.differs ? '  DIFFERS' : ''}`);
        else if ((p.index + 1) % 100 === 0) io.err(`  ${p.index + 1}/${p.total}`);
      },
    });
    for (const d of res.differing) {
      io.out(`differs #${d.index} ${d.subject}\n  expected: ${show(d.expected)}\n  actual:   ${show(d.actual)}`);
    }
    io.out(`sent ${res.sent}, compared ${res.compared}, differing ${res.differing.length}` +
      (res.headMatches === undefined ? '' : `, chain head ${res.headMatches ? 'matches' : 'DIFFERS'}`));
    return res.differing.length === 0 && res.headMatches !== false ? 0 : 1;
  } catch (e) {
    io.err(`replay: ${(e as Error).message}`);
    return 1;
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (x instanceof Uint8Array) return `<${Buffer.from(x).toString('hex')}>`;
    if (x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data)) {
      return `<${Buffer.from((x as { data: number[] }).data).toString('hex')}>`;
    }
    return x;
  });
}

// ── replay against a node ──

export async function recordCliCommand(args: string[]): Promise<number> {
  return recordCommand(args, defaultIo);
}

// ── replay against a node ────────────────────────────────────────────────────────────────────────────────────────

const HEAD_COMMANDS = new Set(['chain.status', 'node.status', 'chain.append', 'chain.ingest', 'chain.export']);
const HEAD_EVENTS = new Set(['chain_appended', 'chain_ingested', 'chain_forked']);

/** The chain head at the end of a recorded session (last head seen in a reply or chain event), and its node. */
export function recordedFinalHead(rec: Recording): { head?: string; node?: string } {
  const cmdOf = new Map<number, string>();
  let head: string | undefined;
  let node: string | undefined;
  for (const e of rec.entries) {
    const p = e.kind === 'reply' ? null : parseSubject(e.subject);
    if (e.kind === 'cmd' && p?.type === 'cmd') {
      node ??= p.node;
      if (e.corr !== undefined) cmdOf.set(e.corr, `${p.area}.${p.verb}`);
      continue;
    }
    let candidate: unknown;
    if (e.kind === 'reply' && e.corr !== undefined && HEAD_COMMANDS.has(cmdOf.get(e.corr) ?? '')) {
      const d = decodeSafe<{ ok?: boolean; result?: { head?: unknown } }>(e.data);
      if (d.ok && d.value?.ok) candidate = d.value.result?.head;
    } else if (e.kind === 'evt' && p?.type === 'evt' && HEAD_EVENTS.has(p.kind)) {
      const d = decodeSafe<{ head?: unknown }>(e.data);
      if (d.ok) candidate = d.value?.head;
    }
    if (typeof candidate === 'string') head = candidate;
  }
  return { head, node };
}

const GENERATED_MSG_ID = /^dm_\d+_[0-9a-f]{12}$/;

/** Blanks what legitimately differs between two runs of the same commands (clock readings, node identity). */
export function normalizeReply(subject: string, value: unknown): unknown {
  const p = parseSubject(subject);
  if (!p || p.type !== 'cmd' || typeof value !== 'object' || value === null) return value;
  const env = value as { ok?: boolean; result?: Record<string, unknown> };
  if (!env.ok || typeof env.result !== 'object' || env.result === null) return value;
  const cmd = `${p.area}.${p.verb}`;
  const r = { ...env.result };
  if (cmd === 'node.status') return { ok: true, result: { height: r.height, head: r.head } };
  if (cmd === 'dm.deposit' && typeof r.msg_id === 'string' && GENERATED_MSG_ID.test(r.msg_id)) r.msg_id = 'dm_<generated>';
  if ((cmd === 'dm.poll' || cmd === 'dm.claim') && Array.isArray(r.messages)) {
    r.messages = r.messages.map((m: unknown) => {
      if (typeof m !== 'object' || m === null) return m;
      const { timestamp: _t, ...rest } = m as Record<string, unknown>;
      if (typeof rest.msg_id === 'string' && GENERATED_MSG_ID.test(rest.msg_id)) rest.msg_id = 'dm_<generated>';
      return rest;
    });
  }
  return { ok: true, result: r };
}

/**
 * `infonet replay FILE [--nats URL] [--to-node ID] [--speed original|max|N]`. Without --nats, a fresh node (temp data
 * dir, embedded NATS) is started, the recording is aimed at it, and it is removed afterwards. Reports every reply
 * that differs and whether the final chain head matches the recorded one.
 */
export async function replayCliCommand(args: string[]): Promise<number> {
  const file = args.find((a, i) => !a.startsWith('--') && (i === 0 || !['--nats', '--creds', '--speed', '--timeout-ms', '--to-node'].includes(args[i - 1])));
  let recording: Recording;
  if (!file) {
    defaultIo.err('usage: infonet replay FILE [--nats URL] [--to-node ID] [--speed original|max|N] [--timeout-ms N]');
    return 2;
  }
  try {
    recording = await readRecordingFile(file);
  } catch (e) {
    defaultIo.err(`replay: ${(e as Error).message}`);
    return 2;
  }
  const recorded = recordedFinalHead(recording);
  const hasNats = args.includes('--nats');
  let fresh: { node: InfonetNode; dir: string } | undefined;
  let replayArgs = args;
  if (!hasNats) {
    const dir = mkdtempSync(join(tmpdir(), 'infonet-replay-'));
    const node = await InfonetNode.start({ dataDir: dir, logger: defaultLogger(process.env.INFONET_LOG_LEVEL ?? 'warn') });
    fresh = { node, dir };
    defaultIo.err(`replay: started a fresh node ${node.nodeId} on ${node.natsUrl}`);
    replayArgs = [...args.filter((_, i) => !(args[i] === '--to-node' || args[i - 1] === '--to-node')), '--nats', node.natsUrl, '--to-node', node.nodeId];
  }
  const toIdx = replayArgs.indexOf('--to-node');
  const target = toIdx >= 0 ? replayArgs[toIdx + 1] : recorded.node;
  try {
    return await replayCommand(replayArgs, defaultIo, {
      normalize: normalizeReply,
      afterReplay: async (nc: NatsConnection): Promise<AfterReplayResult> => {
        if (!target) return { headMatches: recorded.head === undefined };
        const [area, verb] = splitCommand('chain.status');
        const now = await requestTyped<ChainStatus>(nc, cmdSubject(target, area, verb), null);
        const expected = recorded.head ?? '0'.repeat(64);
        defaultIo.out(`final chain head: recorded ${expected}, replayed ${now.head} (height ${now.height})`);
        return { headMatches: now.head === expected, expected, actual: now.head };
      },
    });
  } finally {
    if (fresh) {
      await fresh.node.stop('replay done');
      rmSync(fresh.dir, { recursive: true, force: true });
    }
  }
}
