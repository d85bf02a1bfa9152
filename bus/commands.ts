// The node's bus interface in one place: every command (subject `infonet.<node>.cmd.<area>.<verb>`, msgpack body,
// reply envelope {ok,result}|{ok:false,error:{code,reason}}) and every event (`infonet.<node>.evt.<kind>`), with the
// body types both sides use. bus/service.ts answers these; bus/client.ts sends them.
//
//   command            body                                         result
//   node.status        (none)                                       NodeStatus
//   chain.status       (none)                                       ChainStatus
//   chain.append       AppendInput (externally signed, §2.8)       AppendReply; public path only: private types are
//                                                                   refused with `Unsupported event_type: <type>`
//   chain.append_gate  AppendInput (gate_message, §4.5)            AppendReply
//   chain.append_dm    AppendInput (dm_message, §5.6)              AppendReply
//   chain.ingest       {events: unknown[], max_age_s?}             IngestReply (§9.2)
//   chain.export       {from?: int ≥ 0, limit?: 1..500}            ExportPage (events in wire form)
//   chain.next_sequence {node_id, event_type}                      {sequence}: next free sequence in that domain
//   dm.deposit         DepositRequest (§7.5)                        DepositResult
//   dm.count           SignedMailboxRequest (dm_count)              {count} (§7.6, non-destructive)
//   dm.poll            SignedMailboxRequest + limit?: 1..100 (dm_poll) PollResult (§7.6, destructive = ack)
//   dm.claim           SignedMailboxRequest + msg_ids (dm_poll)     {messages}: selective claim (= ack)
//   dm.pending_ids     SignedMailboxRequest (dm_count)              {msg_ids} (non-destructive)
//   dm.block           SignedBlockRequest (dm_block)                {ok, action, sender_id, blocked}
//   (mailbox requests are signed by the agent's key: protocol/mailbox-access.ts, docs/mailbox-access.md)
//
//   event              body
//   chain_appended     {event, height, head}
//   chain_ingested     {accepted, duplicates, rejected, event_ids, height, head}
//   chain_forked       {height, head}
//   dm_deposited       {msg_id, mailbox_key, delivery_class, origin, recipient_id?}
//   dm_claimed         {msg_id, mailbox_key, delivery_class, origin, recipient_id?}
//   rejected           {command, code, reason}   (every command answered with an error)
//
// Events are published after the change is durable. Ciphertext travels in chain events (the bus is a private
// transport) but is never logged.
import type { AppendInput } from '../protocol/append-rules.js';
import type { ReplicationStatus } from '../actors/replication-actor.js';
import type { InboundStatus, LatencyStatus, MailboxStatsSnapshot } from '../ports/status.js';
import type { ChainEvent } from '../protocol/event.js';
import type { SignedBlockRequest } from '../protocol/block-list.js';
import type { SignedMailboxRequest } from '../protocol/mailbox-access.js';
import type { DepositRequest, DepositResult, PolledMessage } from '../protocol/mailbox-rules.js';

export const SERVICE_NAME = 'infonet';
export const EXPORT_MAX_LIMIT = 500;
export const POLL_MAX_LIMIT = 100;

export const COMMANDS = [
  'node.status',
  'chain.status',
  'chain.append',
  'chain.append_gate',
  'chain.append_dm',
  'chain.ingest',
  'chain.export',
  'chain.next_sequence',
  'dm.deposit',
  'dm.count',
  'dm.poll',
  'dm.claim',
  'dm.pending_ids',
  'dm.block',
] as const;
export type CommandName = (typeof COMMANDS)[number];

export const EVENT_KINDS = ['chain_appended', 'chain_ingested', 'chain_forked', 'dm_deposited', 'dm_claimed', 'rejected'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/**
 * Chain event as carried on the bus: the consensus fields, plus `timestamp_int: true` when the event was
 * accepted through the legacy bare-integer timestamp form (§2.5 rule 3), so that a client re-serialising it
 * with eventToWireJson writes the same bytes as the node.
 */
export type WireEvent = ChainEvent;

export interface ChainStatus {
  height: number;
  head: string;
}

export interface NodeStatus extends ChainStatus {
  node_id: string;
  version: string;
  started_at: number;
  uptime_s: number;
  /** `stats`: counts per class/state, oldest pending age, deposits/polls/claims (issue 13, actors/mailbox-stats.ts). */
  mailboxes: { stored: number; live: number; stats?: MailboxStatsSnapshot };
  /** Replication push round trips of the last seconds per transport (issue 13, node/metrics.ts). */
  latency?: LatencyStatus;
  previous_run: { clean_stop: boolean; height: number; head: string } | null;
  nats: { url: string; embedded: boolean; leaf: string[] };
  /** Outbound replication: peer links and dm_replication_* / ack / pull counters (issue 5). */
  replication?: ReplicationStatus;
  /** Inbound replication: peer HTTP URL and sync scheduler state (issue 5). */
  inbound?: InboundStatus;
  /** Per configured peer the transport kind used and whether policy allows dialling it (§9.1); onion state (issue 10). */
  transports?: { peers: Array<{ url: string; transport: string; allowed: boolean }>; onion?: object; rns?: object };
}

export interface AppendReply extends ChainStatus {
  event: WireEvent;
}

export interface IngestReply extends ChainStatus {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; reason: string; code?: string }>;
}

export interface ExportPage extends ChainStatus {
  from: number;
  events: WireEvent[];
  /** Index of the next page, or null when this page reaches the head. */
  next: number | null;
}

/** poll/count/claim/pending-ids: a request signed by the agent's key (issue 8). */
export type ClaimsBody = SignedMailboxRequest;

export interface CommandTypes {
  'node.status': { body: void; result: NodeStatus };
  'chain.status': { body: void; result: ChainStatus };
  'chain.append': { body: AppendInput; result: AppendReply };
  'chain.append_gate': { body: AppendInput; result: AppendReply };
  'chain.append_dm': { body: AppendInput; result: AppendReply };
  'chain.ingest': { body: { events: unknown[]; max_age_s?: number }; result: IngestReply };
  'chain.export': { body: { from?: number; limit?: number }; result: ExportPage };
  'chain.next_sequence': { body: { node_id: string; event_type: string }; result: { sequence: number } };
  'dm.deposit': { body: DepositRequest; result: DepositResult };
  'dm.count': { body: ClaimsBody; result: { count: number } };
  'dm.poll': { body: ClaimsBody; result: { messages: PolledMessage[]; has_more: boolean } };
  'dm.claim': { body: ClaimsBody; result: { messages: PolledMessage[] } };
  'dm.pending_ids': { body: ClaimsBody; result: { msg_ids: string[] } };
  'dm.block': { body: SignedBlockRequest; result: { ok: true; action: string; sender_id: string; blocked: boolean } };
}

export interface MailboxEventBody {
  msg_id: string;
  mailbox_key: string;
  delivery_class: string;
  origin: string;
  recipient_id?: string;
}

export interface EventTypes {
  chain_appended: AppendReply;
  chain_ingested: IngestReply & { event_ids: string[] };
  chain_forked: ChainStatus;
  dm_deposited: MailboxEventBody;
  dm_claimed: MailboxEventBody;
  rejected: { command: string; code: string; reason: string };
}

export function splitCommand(name: CommandName): [area: string, verb: string] {
  const i = name.indexOf('.');
  return [name.slice(0, i), name.slice(i + 1)];
}

export function toWireEvent(ev: ChainEvent): WireEvent {
  const { timestamp_int, ...rest } = ev;
  return timestamp_int ? { ...rest, timestamp_int } : rest;
}
