// Record a session of mixed commands against one node, replay it into a fresh node: no reply differs (after the
// documented normalisation of clock readings) and the final chain head is the same.
import { join } from 'node:path';
import { InfonetClient } from '../../bus/client.js';
import { startRecorder } from '../../bus/recorder.js';
import { writeRecordingFile, type Recording } from '../../bus/recording-format.js';
import { replayRecording } from '../../bus/replay.js';
import { withNode } from '../../bus/subjects.js';
import { generateIdentity } from '../../protocol/identity.js';
import { signAppend } from '../../protocol/local-sign.js';
import { normalizeReply, recordedFinalHead, replayCliCommand } from '../../cli/record.js';
import { messagePayload, removeTempDirs, startNode, tempDataDir } from './helpers.js';

let recording: Recording;
let recordedHead: string;
const file = join(tempDataDir('infonet-rec-'), 'session.rec');

beforeAll(async () => {
  const a = await startNode();
  const c = await InfonetClient.connect(a.natsUrl, a.nodeId);
  const recorder = await startRecorder({ nc: c.nc, store: 'memory' });
  try {
    const alice = generateIdentity();
    const claims = [{ type: 'shared', token: 'replay-token' }];
    await c.status();
    for (let i = 1; i <= 5; i++) await c.appendSigned(alice, 'message', messagePayload(i));
    await c.appendSigned(alice, 'message', messagePayload(9), { sequence: 2 }).catch(() => undefined); // rejected: replay
    await c.request('chain.append', { nonsense: true } as never).catch(() => undefined); // BAD_INPUT
    const page = await c.exportPage(0, 3);
    await c.ingest(page.events); // duplicates only
    await c.dmDeposit({ sender_id: 'carol', ciphertext: 'c2VhbGVkIGJ5dGVz', delivery_class: 'shared', recipient_token: 'replay-token', msg_id: 'r1' });
    await c.dmDeposit({ sender_id: 'dave', ciphertext: 'c2VhbGVkIGJ5dGVz', delivery_class: 'shared', recipient_token: 'replay-token' });
    const bob = generateIdentity(); // mailbox reads are signed by the agent (issue 8)
    await c.dmCount(bob, claims);
    await c.dmClaim(bob, claims, ['r1']);
    await c.dmPoll(bob, claims);
    await c.nextSequence(alice.nodeId, 'message');
    recordedHead = (await c.chainStatus()).head;
    await c.status();
    await recorder.stop();
    recording = await recorder.collect();
    await writeRecordingFile(file, recording);
  } finally {
    await recorder.close();
    await c.close();
    await a.stop();
  }
});

afterAll(() => removeTempDirs());

test('the recording holds the session and its final head', () => {
  const cmds = recording.entries.filter((e) => e.kind === 'cmd').length;
  expect(cmds).toBe(23);
  expect(recording.entries.filter((e) => e.kind === 'reply').length).toBe(cmds);
  expect(recordedFinalHead(recording).head).toBe(recordedHead);
});

test('replay into a fresh node: no differing reply, same head', async () => {
  const b = await startNode();
  try {
    const res = await replayRecording({
      recording,
      nc: b.nc,
      rewriteSubject: (s) => withNode(s, b.nodeId),
      normalize: normalizeReply,
      afterReplay: async () => ({ headMatches: b.chain.head === recordedHead }),
    });
    expect(res.differing).toEqual([]);
    expect(res.compared).toBe(23);
    expect(res.headMatches).toBe(true);
  } finally {
    await b.stop();
  }
});

test('`infonet replay FILE` starts a fresh node, replays, and exits 0', async () => {
  const lines: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((l: string) => { lines.push(l); });
  const err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    expect(await replayCliCommand([file])).toBe(0);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
  expect(lines.join('\n')).toMatch(/differing 0, chain head matches/);
});
