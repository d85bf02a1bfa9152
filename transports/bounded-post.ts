// One outbound peer POST with a bounded answer and one overall deadline, shared by the loopback/clearnet HTTP
// transport and the onion transport (issue 9: the two carried the same request code). Each caller keeps its own
// agent, size bound and error wording; the timing, bounding and Retry-After handling live only here.
import type http from 'node:http';
import type { InfonetError } from '../protocol/errors.js';
import { parseRetryAfter } from '../protocol/retry-after.js';
import type { PeerCallRequest, PeerCallResponse } from '../ports/peer.js';

export interface BoundedPostOptions {
  /** http.request or https.request. */
  request: typeof http.request;
  agent: http.Agent;
  /** Answers larger than this many bytes are cut off as an error. */
  maxResponseBytes: number;
  /** Seconds clock for an HTTP-date Retry-After. */
  now: () => number;
  /** The error for a failure to get an answer (socket error, oversize answer). */
  unreachable: (why: string) => InfonetError;
  /** The error for a missed deadline. */
  timedOut: () => InfonetError;
  /** Called once a complete answer arrived, before it is handed back. */
  onAnswer?: () => void;
}

export function boundedPost(url: URL, req: PeerCallRequest, o: BoundedPostOptions): Promise<PeerCallResponse> {
  return new Promise<PeerCallResponse>((resolve, reject) => {
    let settled = false;
    const done = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const r = o.request(url, {
      method: 'POST',
      agent: o.agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': req.body.length, ...req.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (total > o.maxResponseBytes) {
          res.destroy();
          done(() => reject(o.unreachable(`answer larger than ${o.maxResponseBytes} bytes`)));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => done(() => {
        o.onAnswer?.();
        const ra = res.headers['retry-after'];
        const out: PeerCallResponse = { status: res.statusCode ?? 0, body: Buffer.concat(chunks, total) };
        if (typeof ra === 'string') out.retryAfterS = parseRetryAfter(ra, o.now());
        resolve(out);
      }));
      res.on('error', (e) => done(() => reject(o.unreachable(e.message))));
    });
    // One overall deadline (connect/circuit + send + answer), not an idle timeout.
    const timer = setTimeout(() => {
      done(() => reject(o.timedOut()));
      r.destroy();
    }, req.timeoutMs);
    r.on('error', (e) => done(() => reject(o.unreachable((e as NodeJS.ErrnoException).code ?? e.message))));
    r.end(req.body);
  });
}
