// What the endpoint sees of one Reticulum interface: a named pipe of unframed packets.
export interface RnsInterface {
  readonly id: string;
  readonly up: boolean;
  /** Frames and writes one packet; false when the interface is down (nothing was sent). */
  send(raw: Buffer): boolean;
}

export interface RnsInterfaceStatus {
  id: string;
  kind: 'tcp-client' | 'tcp-server' | 'tcp-accepted';
  state: string;
  target: string;
  rxPackets: number;
  txPackets: number;
}

/** The endpoint side: interfaces report themselves and every packet they unframe. */
export interface RnsInterfaceHost {
  interfaceUp(iface: RnsInterface): void;
  interfaceDown(iface: RnsInterface): void;
  inbound(iface: RnsInterface, raw: Buffer): void;
}
