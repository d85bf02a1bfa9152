// The owner's durability design (docs/mls.md): a commit whose state was written but whose events never reached the
// chain (the process died in between — injected as an append that fails) is finalised at the next start, so the
// other members and the invitee converge; an encrypted export restores a node whose MLS records were lost.
import { openDatabase, sublevel } from '../../store/db.js';
import { importBackup } from '../../mls/mls-backup.js';
import { mlsHandlers } from '../../mls/mls-handlers.js';
import { MlsTestBed } from './helpers.js';
import { rejection } from '../chain/helpers.js';

jest.setTimeout(120_000);

const bodies = (r: Record<string, unknown>): string[] => (r.messages as Array<{ body: string }>).map((m) => m.body);

describe('MLS owner durability', () => {
  const bed = new MlsTestBed();
  afterAll(() => bed.cleanup());

  test('a commit written but not appended is finalised on restart; export/import restores lost MLS records', async () => {
    let a = await bed.node('a');
    const b = await bed.node('b');
    const c = await bed.node('c');
    await a.owner.create({ gate_id: 'ops', persona: 'alice' });
    await a.owner.invite({ gate: 'ops', ...(await b.owner.keyPackage({ persona: 'bob' })) });
    await bed.sync(a, b);
    expect((await b.owner.accept({ persona: 'bob' })).joined).toEqual(['ops']);

    // "Crash" between the state write and the append: the invite of Carol fails after its pending marker is durable.
    const kpC = await c.owner.keyPackage({ persona: 'carol' });
    const dir = a.dir;
    const identity = a.identity;
    await a.close();
    a = await bed.node('a', dir, identity, (h) => ({ ...h, append: (t, p) => (t === 'gate_message' ? Promise.reject(new Error('process died')) : h.append(t, p)) }));
    const before = a.opened.chain.length;
    await expect(a.owner.invite({ gate: 'ops', ...kpC })).rejects.toThrow('process died');
    expect(a.opened.chain.length).toBe(before);

    // Next start: the marker is finalised — the commit is on the chain, the Welcome in Carol's mailbox.
    await a.close();
    a = await bed.node('a', dir, identity);
    expect(a.opened.chain.length).toBeGreaterThan(before);
    expect((await a.owner.show('ops')).members).toEqual(['alice', 'bob', 'carol']);
    await a.owner.post({ gate: 'ops', text: 'after the crash' });
    await bed.sync(a, b, c);
    expect((await c.owner.accept({ persona: 'carol' })).joined).toEqual(['ops']);
    expect(bodies(await b.owner.read({ gate: 'ops' }))).toEqual(['after the crash']);
    expect(bodies(await c.owner.read({ gate: 'ops' }))).toEqual(['after the crash']);

    // Encrypted export, loss of every MLS record, import into the stopped node, start: the gate works again.
    const backup = ((await mlsHandlers(a.owner)['mls.export']({ passphrase: 'correct horse battery' })) as { backup: string }).backup;
    expect(backup).not.toContain('after the crash');
    await a.close();
    const db = await openDatabase(dir);
    const mlsRecords = sublevel(db, 'mls');
    for await (const k of mlsRecords.keys() as AsyncIterable<string>) await mlsRecords.del(k);
    await db.close();
    a = await bed.node('a', dir, identity);
    expect((await rejection(a.owner.post({ gate: 'ops', text: 'x' }))).code).toBe('not_found');
    await a.close();
    await expect(importBackup(dir, backup, 'wrong passphrase')).rejects.toThrow(/wrong passphrase/);
    expect((await importBackup(dir, backup, 'correct horse battery')).records).toBe(3); // persona, gate, one view entry
    a = await bed.node('a', dir, identity);
    expect(bodies(await a.owner.read({ gate: 'ops' }))).toEqual(['after the crash']);
    await a.owner.post({ gate: 'ops', text: 'restored' });
    await bed.sync(a, b);
    expect(bodies(await b.owner.read({ gate: 'ops' }))).toEqual(['after the crash', 'restored']);
  });
});
