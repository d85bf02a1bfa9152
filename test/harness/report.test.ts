import { deliveryCounts, formatReport, percentile, reportOk } from '../../harness/report.js';

test('nearest-rank percentiles', () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(percentile(v, 50)).toBe(50);
  expect(percentile(v, 99)).toBe(99);
  expect(percentile(v, 100)).toBe(100);
  expect(percentile([7], 99)).toBe(7);
  expect(percentile([3, 1, 2], 50)).toBe(2);
  expect(percentile([], 50)).toBeNaN();
});

test('delivery counts: delivered, duplicates (repeats and unknown ids), lost', () => {
  expect(deliveryCounts(['a', 'b', 'c'], ['a', 'b', 'a', 'x'])).toEqual({ sent: 3, delivered: 2, duplicates: 2, lost: 1 });
  expect(deliveryCounts(['a'], [])).toEqual({ sent: 1, delivered: 0, duplicates: 0, lost: 1 });
});

test('report: PASS only when every check holds', () => {
  const base = { scenario: 's', nodes: 3, counts: deliveryCounts(['a'], ['a']), latenciesMs: [1.5], latencyOf: 'x', totalMs: 1234 };
  const pass = { ...base, checks: [{ name: 'c1', ok: true, detail: '' }] };
  const fail = { ...base, checks: [{ name: 'c1', ok: true, detail: '' }, { name: 'c2', ok: false, detail: 'why' }] };
  expect(reportOk(pass)).toBe(true);
  expect(formatReport(pass)).toMatch(/RESULT: PASS/);
  expect(reportOk(fail)).toBe(false);
  expect(formatReport(fail)).toMatch(/FAIL {2}c2 — why/);
  expect(reportOk({ ...base, checks: [] })).toBe(false);
});
