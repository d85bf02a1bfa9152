import fc from 'fast-check';
import {
  ALL_SUBJECTS,
  cmdSubject,
  cmdWildcard,
  decodeNodeToken,
  encodeNodeToken,
  evtSubject,
  evtWildcard,
  parseSubject,
  subjectMatches,
  withNode,
} from '../../bus/subjects.js';
import { InfonetError } from '../../protocol/errors.js';

describe('subject scheme', () => {
  it('builds command and event subjects with canonical node ids', () => {
    expect(cmdSubject('!sb_56475aa1', 'chain', 'append')).toBe('infonet.sb_56475aa1.cmd.chain.append');
    expect(evtSubject('!sb_56475aa1', 'chain_appended')).toBe('infonet.sb_56475aa1.evt.chain_appended');
    expect(ALL_SUBJECTS).toBe('infonet.>');
    expect(cmdWildcard()).toBe('infonet.*.cmd.>');
    expect(evtWildcard('!sb_1')).toBe('infonet.sb_1.evt.*');
  });

  it('parses what it builds', () => {
    expect(parseSubject('infonet.sb_56475aa1.cmd.chain.append')).toEqual({
      type: 'cmd', node: '!sb_56475aa1', nodeToken: 'sb_56475aa1', area: 'chain', verb: 'append',
    });
    expect(parseSubject(evtSubject('node A.b', 'x'))).toMatchObject({ type: 'evt', node: 'node A.b', kind: 'x' });
    expect(parseSubject('infonet.x.cmd.only')).toBeNull();
    expect(parseSubject('other.x.evt.y')).toBeNull();
    expect(parseSubject('_INBOX.abc')).toBeNull();
    expect(parseSubject('infonet.~!!.evt.y')).toBeNull();
  });

  it('encodes any node id into one safe token, reversibly', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), (id) => {
        const t = encodeNodeToken(id);
        expect(t).toMatch(/^~?[A-Za-z0-9_-]+$/);
        expect(decodeNodeToken(t)).toBe(id);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects unsafe area/verb/kind tokens', () => {
    expect(() => cmdSubject('!a', 'ch.ain', 'x')).toThrow(InfonetError);
    expect(() => cmdSubject('!a', 'chain', '*')).toThrow(InfonetError);
    expect(() => evtSubject('!a', 'a b')).toThrow(InfonetError);
    expect(() => encodeNodeToken('')).toThrow(InfonetError);
    expect(() => encodeNodeToken('a\uD800b')).toThrow(InfonetError);
  });

  it('matches wildcards and rewrites the node', () => {
    expect(subjectMatches('infonet.>', 'infonet.a.cmd.b.c')).toBe(true);
    expect(subjectMatches('infonet.*.evt.*', 'infonet.a.evt.k')).toBe(true);
    expect(subjectMatches('infonet.*.evt.*', 'infonet.a.cmd.k.v')).toBe(false);
    expect(subjectMatches('infonet.>', 'infonet')).toBe(false);
    expect(withNode('infonet.sb_1.cmd.chain.append', '!sb_2')).toBe('infonet.sb_2.cmd.chain.append');
  });
});
