// Bounded request-body reading and JSON replies for the node's HTTP endpoints.
// [tightening, §8.4.1] The limit applies to the bytes actually read, chunked bodies included, and
// reading stops at limit + 1 bytes so an oversized upload is never buffered.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';

/** Requests whose body was refused; their connection is closed after the reply (see sendJson). */
const refused = new WeakSet<IncomingMessage>();

function tooLarge(req: IncomingMessage, maxBytes: number, bytesRead: number): InfonetError {
  refused.add(req);
  const limit = maxBytes % 1024 === 0 ? `${maxBytes / 1024}KB` : `${maxBytes} bytes`;
  return new InfonetError(ErrorCodes.BODY_TOO_LARGE, `Request body too large (max ${limit})`, {
    max_bytes: maxBytes,
    bytes_read: bytesRead,
  });
}

/**
 * The whole body, or BODY_TOO_LARGE when it exceeds `maxBytes` (rejected before reading when the
 * Content-Length already says so). At most `maxBytes + 1` bytes are taken from the stream; the rest stays
 * unread and the connection is closed once the reply is sent.
 */
export function readBodyLimited(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared.trim()) && Number(declared.trim()) > maxBytes) {
    return Promise.reject(tooLarge(req, maxBytes, 0));
  }
  if (req.readableEnded) {
    return Promise.reject(new InfonetError(ErrorCodes.INTERNAL, 'request body was already consumed'));
  }

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;

    const cleanup = () => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onReadable = () => {
      // read(n) with n ≤ readableLength returns exactly n bytes, which keeps the bound exact even
      // when the socket delivers one large chunk.
      for (;;) {
        const n = Math.min(req.readableLength, maxBytes + 1 - total);
        if (n <= 0) {
          req.read(0); // lets the stream emit 'end' when this 'readable' was the end-of-stream signal
          break;
        }
        const chunk = req.read(n) as Buffer | null;
        if (chunk === null) break;
        chunks.push(chunk);
        total += chunk.length;
        if (total > maxBytes) {
          cleanup();
          reject(tooLarge(req, maxBytes, total));
          return;
        }
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, total));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new InfonetError(ErrorCodes.BAD_INPUT, `request body read failed: ${err.message}`));
    };
    const onClose = () => {
      cleanup();
      reject(new InfonetError(ErrorCodes.BAD_INPUT, 'request aborted before the body was complete'));
    };

    req.on('readable', onReadable);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** A compact JSON reply. After a refused body the connection is closed rather than drained. */
export function sendJson(res: ServerResponse, status: number, obj: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = Buffer.from(JSON.stringify(obj), 'utf8');
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': body.length,
  };
  if (refused.has(res.req)) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
