// The gate directory as the chain shows it: every gate announced by a `gate_create` or seen in a `gate_message`,
// with the heights of its events (no decryption — a projection of public metadata). Built incrementally from the
// last indexed height; a shorter chain (fork recovery reset) rebuilds it from genesis.
import type { ChainEvent } from '../protocol/event.js';
import type { MlsHost } from './host.js';

export interface DirEntry {
  display_name: string;
  rules: Record<string, unknown>;
  /** Heights of every gate_message of the gate; `foreign`: those another node wrote (what this node decrypts). */
  heights: number[];
  foreign: number[];
  last_at: number | null;
  created_by?: string;
}

export class GateIndex {
  private readonly entries = new Map<string, DirEntry>();
  /** Chain height indexed so far. */
  height = 0;

  constructor(private readonly host: MlsHost) {}

  get(gate: string): DirEntry | undefined {
    return this.entries.get(gate);
  }

  has(gate: string): boolean {
    return this.entries.has(gate);
  }

  gates(): string[] {
    return [...this.entries.keys()];
  }

  /** Indexes the events appended since the last look. */
  async refresh(): Promise<void> {
    const len = this.host.chainLength();
    if (len < this.height) { this.entries.clear(); this.height = 0; }
    while (this.height < len) {
      const events = await this.host.readRange(this.height, Math.min(1000, len - this.height));
      if (events.length === 0) break;
      events.forEach((ev, i) => this.add(ev, this.height + i));
      this.height += events.length;
    }
  }

  private entry(gate: string): DirEntry {
    let d = this.entries.get(gate);
    if (!d) this.entries.set(gate, (d = { display_name: '', rules: {}, heights: [], foreign: [], last_at: null }));
    return d;
  }

  private add(ev: ChainEvent, height: number): void {
    const p = ev.payload as Record<string, unknown>;
    if (ev.event_type === 'gate_create' && typeof p.gate_id === 'string') {
      const d = this.entry(p.gate_id);
      if (!d.created_by) {
        d.display_name = String(p.display_name ?? '');
        d.rules = (p.rules && typeof p.rules === 'object' ? p.rules : {}) as Record<string, unknown>;
        d.created_by = ev.node_id;
      }
    } else if (ev.event_type === 'gate_message' && typeof p.gate === 'string') {
      const d = this.entry(p.gate);
      d.heights.push(height);
      if (ev.node_id !== this.host.nodeId) d.foreign.push(height);
      d.last_at = Math.max(d.last_at ?? 0, Number(ev.timestamp));
    }
  }
}
