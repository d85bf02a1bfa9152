// A small client for Tor's control protocol (control-spec.txt): CRLF lines, replies of `NNN-`/`NNN+`/`NNN `
// lines, commands answered strictly in order. No library is kept for this in our registry list, and the protocol
// is a line protocol, so this is ~150 lines of node:net rather than a dependency.
//
// Used for: authentication (cookie file or password; PROTOCOLINFO tells which), bootstrap progress, the SOCKS
// listener address, and ADD_ONION / DEL_ONION (transports/onion/onion-service.ts).
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { ErrorCodes, InfonetError } from '../../protocol/errors.js';

export interface TorReply {
  /** Status code of the final line (250 = OK). */
  code: number;
  /** Text of every line, `NNN-`/`NNN ` prefixes removed; data blocks (`NNN+`) joined with '\n'. */
  lines: string[];
}

export interface TorControlAuth {
  /** Cookie file; defaults to the one PROTOCOLINFO names. */
  cookieFile?: string;
  /** HashedControlPassword auth. Never logged. */
  password?: string;
}

/** Replies longer than this (bytes) end the connection: tor never sends that much for our commands. */
const MAX_REPLY_BYTES = 1 << 20;

const controlError = (what: string, reply?: TorReply): InfonetError =>
  new InfonetError(ErrorCodes.UNAVAILABLE, `tor control: ${what}${reply ? ` (${reply.code} ${reply.lines.join(' | ')})` : ''}`);

/** Quotes a string for the control protocol (QuotedString). */
export const quoteControl = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export class TorControl {
  private buf = '';
  private current: string[] = [];
  private dataBlock: string[] | null = null;
  private readonly pending: Array<{ resolve: (r: TorReply) => void; reject: (e: Error) => void }> = [];
  private closedError: Error | null = null;
  /** Resolves when the connection ends (tor stopped, or close()). */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.failAll(this.closedError ?? controlError('connection closed'));
        resolve();
      });
    });
    socket.on('error', (e) => {
      this.closedError = controlError(e.message);
    });
  }

  static connect(host: string, port: number, timeoutMs = 10_000): Promise<TorControl> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(controlError(`connect ${host}:${port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(new TorControl(s));
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(controlError(`connect ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      });
    });
  }

  /** Connects and authenticates (cookie when tor offers it, else password). */
  static async open(host: string, port: number, auth: TorControlAuth = {}): Promise<TorControl> {
    const c = await TorControl.connect(host, port);
    try {
      await c.authenticate(auth);
      return c;
    } catch (e) {
      c.close();
      throw e;
    }
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    if (this.buf.length > MAX_REPLY_BYTES) {
      this.closedError = controlError('reply too large');
      this.socket.destroy();
      return;
    }
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      this.onLine(line);
    }
  }

  private onLine(line: string): void {
    if (this.dataBlock) {
      if (line === '.') {
        this.current.push(this.dataBlock.join('\n'));
        this.dataBlock = null;
      } else {
        this.dataBlock.push(line.startsWith('..') ? line.slice(1) : line);
      }
      return;
    }
    const m = /^(\d{3})([ +-])(.*)$/.exec(line);
    if (!m) return;
    const [, codeText, sep, text] = m;
    if (codeText.startsWith('6')) return; // asynchronous events: we subscribe to none
    if (sep === '+') {
      this.current.push(text);
      this.dataBlock = [];
      return;
    }
    this.current.push(text);
    if (sep === ' ') {
      const reply: TorReply = { code: Number(codeText), lines: this.current };
      this.current = [];
      this.pending.shift()?.resolve(reply);
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  /** Sends one command line and resolves with its reply (any status; see `ok`). */
  command(line: string): Promise<TorReply> {
    if (/[\r\n]/.test(line)) return Promise.reject(new InfonetError(ErrorCodes.BAD_INPUT, 'tor control: command contains a line break'));
    if (this.socket.destroyed) return Promise.reject(this.closedError ?? controlError('connection closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(`${line}\r\n`);
    });
  }

  /** Sends a command and requires 250; throws UNAVAILABLE with tor's answer otherwise (never echoes the command). */
  async ok(line: string, what = line.split(' ')[0]): Promise<TorReply> {
    const r = await this.command(line);
    if (r.code !== 250) throw controlError(`${what} refused`, r);
    return r;
  }

  async authenticate(auth: TorControlAuth = {}): Promise<void> {
    const info = await this.ok('PROTOCOLINFO 1');
    const authLine = info.lines.find((l) => l.startsWith('AUTH ')) ?? '';
    const methods = (/METHODS=([A-Z0-9,]+)/.exec(authLine)?.[1] ?? '').split(',');
    const cookieFile = auth.cookieFile ?? /COOKIEFILE="((?:[^"\\]|\\.)*)"/.exec(authLine)?.[1]?.replace(/\\(.)/g, '$1');
    let secret: string;
    if (auth.password !== undefined && methods.includes('HASHEDPASSWORD')) {
      secret = quoteControl(auth.password);
    } else if (methods.includes('COOKIE') && cookieFile) {
      secret = (await readFile(cookieFile)).toString('hex');
    } else if (methods.includes('NULL')) {
      secret = '';
    } else {
      throw controlError(`no usable auth method (tor offers ${methods.join(',') || 'none'}; give a password or a readable cookie file)`);
    }
    const r = await this.command(secret ? `AUTHENTICATE ${secret}` : 'AUTHENTICATE');
    if (r.code !== 250) throw controlError('authentication failed', { code: r.code, lines: [] });
  }

  /** GETINFO key → value (data blocks included). */
  async getInfo(key: string): Promise<string> {
    const r = await this.ok(`GETINFO ${key}`);
    const first = r.lines[0] ?? '';
    const prefix = `${key}=`;
    if (!first.startsWith(prefix)) throw controlError(`unexpected GETINFO answer for ${key}`, r);
    const rest = first.slice(prefix.length);
    // A data block answer is `key=` followed by the block as the next element.
    return rest === '' && r.lines.length > 2 ? r.lines[1] : rest;
  }

  /** Bootstrap percentage (0–100) and tor's summary. */
  async bootstrap(): Promise<{ progress: number; summary: string }> {
    const v = await this.getInfo('status/bootstrap-phase');
    return { progress: Number(/PROGRESS=(\d+)/.exec(v)?.[1] ?? 0), summary: /SUMMARY="([^"]*)"/.exec(v)?.[1] ?? '' };
  }

  /** First SOCKS listener as {host, port}. */
  async socksListener(): Promise<{ host: string; port: number }> {
    const v = await this.getInfo('net/listeners/socks');
    const m = /"?([0-9.]+):(\d+)"?/.exec(v);
    if (!m) throw controlError(`tor has no SOCKS listener (${v || 'none'})`);
    return { host: m[1], port: Number(m[2]) };
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}
