// The MLS owner against real chain actors (LevelDB), the real mailbox registry and real ingest between nodes:
// create → key package → invite (Welcome via the mailbox) → accept → post → read across epochs → rotate → remove.
import { MlsTestBed, type TestMlsNode } from './helpers.js';
import { rejection } from '../chain/helpers.js';

jest.setTimeout(120_000);

describe('MLS gates through the owner', () => {
  const bed = new MlsTestBed();
  let a: TestMlsNode;
  let b: TestMlsNode;
  let c: TestMlsNode;
  afterAll(() => bed.cleanup());

  test('create, invite, accept, post, read, rotate, remove', async () => {
    a = await bed.node('a');
    b = await bed.node('b');
    c = await bed.node('c');
    const created = await a.owner.create({ gate_id: 'Ops', display_name: 'Ops room', rules: { min_rep: 0 }, persona: 'alice' });
    expect(created).toMatchObject({ gate_id: 'ops', epoch: 1 });

    const bobKp = await b.owner.keyPackage({ persona: 'bob' });
    const carolKp = await c.owner.keyPackage({ persona: 'carol' });
    const inv1 = await a.owner.invite({ gate: 'ops', ...bobKp });
    expect(inv1.epoch).toBe(2);
    const inv2 = await a.owner.invite({ gate: 'ops', ...carolKp });
    expect(inv2.epoch).toBe(3);

    await bed.sync(a, b, c);
    expect(await b.owner.accept({ persona: 'bob' })).toMatchObject({ joined: ['ops'] });
    expect(await c.owner.accept({ persona: 'carol' })).toMatchObject({ joined: ['ops'] });

    await a.owner.post({ gate: 'ops', text: 'hello gate 1' });
    await bed.sync(a, b, c);
    const rb = await b.owner.read({ gate: 'ops' });
    expect((rb.messages as Array<{ body: string; sender: string; sender_ref_ok: boolean }>).map((m) => [m.body, m.sender, m.sender_ref_ok])).toEqual([['hello gate 1', 'alice', true]]);
    const rc = await c.owner.read({ gate: 'ops' });
    expect((rc.messages as Array<{ body: string }>).map((m) => m.body)).toEqual(['hello gate 1']);

    // Bob posts; Alice and Carol read it.
    await b.owner.post({ gate: 'ops', text: 'bob here' });
    await bed.sync(a, b, c);
    expect(((await a.owner.read({ gate: 'ops' })).messages as Array<{ body: string }>).map((m) => m.body)).toEqual(['hello gate 1', 'bob here']);

    // Rotate: new epoch; everyone still reads.
    const rot = await a.owner.rotate({ gate: 'ops' });
    expect(rot.epoch).toBe(4);
    await a.owner.post({ gate: 'ops', text: 'after rotate' });
    await bed.sync(a, b, c);
    expect(((await c.owner.read({ gate: 'ops' })).messages as Array<{ body: string }>).map((m) => m.body)).toEqual(['hello gate 1', 'bob here', 'after rotate']);

    // Remove Carol: Bob reads later posts, Carol cannot.
    const rm = await a.owner.remove({ gate: 'ops', member: 'carol' });
    expect(rm.members).toEqual(['alice', 'bob']);
    await a.owner.post({ gate: 'ops', text: 'carol cannot read this' });
    await bed.sync(a, b, c);
    expect(((await b.owner.read({ gate: 'ops' })).messages as Array<{ body: string }>).map((m) => m.body)).toContain('carol cannot read this');
    const carolView = await c.owner.read({ gate: 'ops' });
    expect(carolView.member).toBe(false);
    expect((carolView.messages as Array<{ body: string }>).map((m) => m.body)).not.toContain('carol cannot read this');
    expect((await rejection(c.owner.post({ gate: 'ops', text: 'x' }))).code).toBe('not_member');

    // Stale epoch claim.
    const stale = await rejection(b.owner.post({ gate: 'ops', text: 'old', epoch: 2 }));
    expect(stale.code).toBe('gate_state_stale');

    // Directory: no plaintext, counts.
    const list = await c.owner.list();
    const ops = list.gates.find((g) => g.gate_id === 'ops')!;
    expect(ops).toMatchObject({ display_name: 'Ops room', member: false });
    const show = await a.owner.show('ops');
    expect(show).toMatchObject({ member: true, member_count: 2, waiting: 0 });
    expect(JSON.stringify(list)).not.toContain('cannot read');
  });

  test('restart restores every group; a corrupted record locks only its gate', async () => {
    await a.owner.create({ gate_id: 'second', persona: 'alice' });
    await a.owner.post({ gate: 'second', text: 'in second' });
    a = await a.reopen();
    expect(((await a.owner.read({ gate: 'ops' })).messages as Array<{ body: string }>).map((m) => m.body)).toContain('carol cannot read this');
    await a.owner.post({ gate: 'ops', text: 'after restart' });
    await bed.sync(a, b);
    expect(((await b.owner.read({ gate: 'ops' })).messages as Array<{ body: string }>).map((m) => m.body)).toContain('after restart');

    // Corrupt the gate record of "second" on disk (node stopped), then start: second is locked, ops works.
    await a.close();
    const { openDatabase, sublevel } = await import('../../store/db.js');
    const db = await openDatabase(a.dir);
    const raw = sublevel(db, 'mls');
    const blob = Buffer.from((await raw.get('g:second')) as Uint8Array);
    blob[blob.length - 20] ^= 0xff;
    await raw.put('g:second', blob);
    await db.close();
    a = await bed.node('a', a.dir, a.identity);
    const second = (await a.owner.list()).gates.find((g) => g.gate_id === 'second')!;
    expect(second.locked).toMatch(/cannot be opened/);
    expect((await rejection(a.owner.post({ gate: 'second', text: 'x' }))).code).toBe('gate_locked');
    await a.owner.post({ gate: 'ops', text: 'ops still works' });
  });
});

describe('MLS DM sessions', () => {
  const bed = new MlsTestBed();
  afterAll(() => bed.cleanup());

  test('key package, session_welcome in the first DM, replies over a shared mailbox, reset', async () => {
    const a = await bed.node('a');
    const b = await bed.node('b');
    const kp = await b.owner.keyPackage({ alias: 'bob', purpose: 'dm' });
    const created = await a.owner.sessionCreate({ ...kp, alias: 'alice', text: 'hi bob' });
    const rb = await b.owner.sessionRead({ alias: 'bob' });
    const sb = (rb.sessions as Array<{ session_id: string; messages: Array<{ body: string }> }>)[0];
    expect(sb.session_id).toBe(created.session_id);
    expect(sb.messages.map((m) => m.body)).toEqual(['hi bob']);
    await b.owner.sessionSend({ session_id: sb.session_id, text: 'hi alice' });
    const ra = await a.owner.sessionRead({ alias: 'alice' });
    const sa = (ra.sessions as Array<{ shared: boolean; messages: Array<{ body: string }> }>)[0];
    expect(sa.messages.map((m) => m.body)).toEqual(['hi bob', 'hi alice']);
    expect(sa.shared).toBe(true);
    await a.owner.sessionSend({ session_id: created.session_id, text: 'second' });
    const rb2 = await b.owner.sessionRead({ alias: 'bob' });
    expect((rb2.sessions as Array<{ messages: Array<{ body: string }> }>)[0].messages.map((m) => m.body)).toEqual(['hi bob', 'hi alice', 'second']);

    await a.owner.create({ gate_id: 'keep', persona: 'alice' });
    const reset = await a.owner.sessionReset();
    expect(reset.sessions_wiped).toBe(1);
    expect((await a.owner.sessionRead({ alias: 'alice' })).sessions).toEqual([]);
    expect((await a.owner.list()).gates.map((g) => g.gate_id)).toContain('keep');
  });
});
