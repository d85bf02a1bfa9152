// The MLS commands on the bus (issue 12): `infonet.<node>.cmd.gate.<verb>`, `…cmd.dm_session.<verb>`,
// `…cmd.mls.<verb>`, msgpack bodies, the same `{ok, result}` / `{ok:false, error}` envelope as every command.
// Generic over the handler table (mls/mls-handlers.ts builds it), so bus/ does not depend on the MLS owner.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { decodeRequest, toReply } from './codec.js';
import { cmdSubject } from './subjects.js';

export interface MlsBusCommands {
  stop(): Promise<void>;
}

export function startMlsCommands(
  nc: NatsConnection,
  nodeId: string,
  handlers: Record<string, (body: unknown) => Promise<unknown>>,
  logger: Logger,
  /** Called before each reply (the event publisher's flush: a command's events precede its reply). */
  beforeReply: () => void = () => undefined,
): MlsBusCommands {
  const subs: Subscription[] = [];
  const inflight = new Set<Promise<void>>();
  for (const [name, handler] of Object.entries(handlers)) {
    const i = name.indexOf('.');
    const subject = cmdSubject(nodeId, name.slice(0, i), name.slice(i + 1));
    subs.push(nc.subscribe(subject, {
      callback: (_err, msg) => {
        const p = (async () => {
          let reply: unknown;
          const d = decodeRequest(msg.data);
          if (!d.ok) reply = d.error;
          else {
            try {
              reply = await handler(d.value);
            } catch (e) {
              if (e instanceof InfonetError) reply = e;
              else {
                // Never the body: it may hold a post's text.
                logger.error({ command: name, err: (e as Error)?.message ?? String(e) }, 'MLS command failed');
                reply = new InfonetError(ErrorCodes.INTERNAL, `internal error in ${name}`);
              }
            }
          }
          beforeReply();
          if (msg.reply) msg.respond(toReply(reply));
        })().catch((e: unknown) => logger.error({ command: name, err: String(e) }, 'MLS handler crashed'));
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      },
    }));
  }
  return {
    async stop() {
      for (const s of subs) s.unsubscribe();
      while (inflight.size) await Promise.allSettled([...inflight]);
    },
  };
}
