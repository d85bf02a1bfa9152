// The reference implementation's golden vectors (../shared/spec/vectors/rns-golden.json), loaded once.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = join(__dirname, '..', '..', '..', 'shared', 'spec', 'vectors', 'rns-golden.json');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const golden: any = JSON.parse(readFileSync(FILE, 'utf8'));
export const hex = (s: string): Buffer => Buffer.from(s, 'hex');
export const V = golden.vectors;
export const ID1 = golden.identities[0];
export const ID2 = golden.identities[1];
