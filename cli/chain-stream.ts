// Chain files as streams (issue 14): a 1M-event chain is ~700 MiB of JSON, more than one JS string can
// hold, so `chain validate|ingest` read it element by element with stream-json's tokenizer and
// `chain export` writes it page by page. Number literals survive as in a whole-file read: each top-level
// element is put back together as JSON text (numbers keep their source text, §2.5 / Appendix D) and read
// by parseEventsJson, so per event the result is exactly what reading the whole file gave.
import { createReadStream, closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { jsonParser } from 'stream-json/core/parser.js';
import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { parseEventsJson } from '../protocol/lossless-json.js';
import { UsageError } from './args.js';

/** One element of the top-level array: the value as parseEventsJson reads it, and its JSON text. */
export interface StreamedElement {
  value: unknown;
  text: string;
}

type Token = { name: string; value?: unknown };

/** Progress lines on stderr only for big files: small runs keep the exact one-line forms. */
export const PROGRESS_EVERY = 100_000;

/**
 * The elements of the JSON array in `file`, in order. Throws UsageError when the file cannot be read,
 * is not valid JSON, or is not an array.
 */
export async function* streamChainFile(file: string): AsyncGenerator<StreamedElement> {
  const parse = jsonParser({ packValues: true, streamValues: false });
  let depth = 0;
  let text = '';
  // A comma is due before the next value at each open level (true once that level holds a value).
  const needComma: boolean[] = [];
  let afterKey = false;
  let sawTop = false;
  let ended = false;
  const out: StreamedElement[] = [];

  const emitValue = (piece: string): void => {
    if (afterKey) afterKey = false;
    else if (needComma[depth - 1]) text += ',';
    text += piece;
    if (depth > 0) needComma[depth - 1] = true;
  };
  const finishElement = (): void => {
    let value: unknown;
    try {
      value = parseEventsJson(text);
    } catch (e) {
      throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}`);
    }
    out.push({ value, text });
    text = '';
  };
  const onToken = (t: Token): void => {
    if (ended) throw new UsageError(`${file} is not valid JSON: data after the array`);
    if (!sawTop) {
      if (t.name !== 'startArray') throw new UsageError(`${file} must contain a JSON array of events`);
      sawTop = true;
      return;
    }
    // depth counts open containers inside the top-level array
    switch (t.name) {
      case 'startObject':
      case 'startArray': {
        if (depth === 0) text = '';
        else emitValue('');
        text += t.name === 'startObject' ? '{' : '[';
        needComma[depth] = false;
        depth++;
        return;
      }
      case 'endObject':
      case 'endArray': {
        if (depth === 0) {
          ended = true;
          return;
        }
        depth--;
        text += t.name === 'endObject' ? '}' : ']';
        if (depth === 0) finishElement();
        return;
      }
      case 'keyValue':
        if (needComma[depth - 1]) text += ',';
        text += JSON.stringify(t.value as string) + ':';
        needComma[depth - 1] = false;
        afterKey = true;
        return;
      case 'stringValue':
      case 'numberValue':
      case 'nullValue':
      case 'trueValue':
      case 'falseValue': {
        const piece = t.name === 'stringValue' ? JSON.stringify(t.value as string) : t.name === 'numberValue' ? (t.value as string) : String(t.value);
        if (depth === 0) {
          text = piece;
          finishElement();
        } else {
          emitValue(piece);
        }
        return;
      }
      default:
        return; // whitespace and the like: not part of any value's text
    }
  };
  const feed = (chunk: string | typeof none): void => {
    let r: unknown;
    try {
      r = parse(chunk as string);
    } catch (e) {
      throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (isMany(r)) for (const t of getManyValues(r) as Token[]) onToken(t);
    else if (r !== none && r !== undefined) onToken(r as Token);
  };

  let input: AsyncIterable<string>;
  try {
    input = createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 }) as AsyncIterable<string>;
    for await (const chunk of input) {
      feed(chunk);
      if (out.length) yield* out.splice(0, out.length);
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  feed(none);
  if (out.length) yield* out.splice(0, out.length);
  if (!sawTop) throw new UsageError(`${file} is not valid JSON: empty file`);
  if (!ended) throw new UsageError(`${file} is not valid JSON: unexpected end of input`);
}

/** Elements in batches of at most `maxEvents` events and (past the first) `maxChars` characters of text. */
export async function* batchElements(source: AsyncIterable<StreamedElement>, maxEvents: number, maxChars = Infinity): AsyncGenerator<StreamedElement[]> {
  let batch: StreamedElement[] = [];
  let chars = 0;
  for await (const el of source) {
    if (batch.length > 0 && (batch.length >= maxEvents || chars + el.text.length > maxChars)) {
      yield batch;
      batch = [];
      chars = 0;
    }
    batch.push(el);
    chars += el.text.length;
  }
  if (batch.length > 0) yield batch;
}

/**
 * Writes a chain as the wire JSON array `chainToWireJson` gives (one event per line, `[]` when empty,
 * a final newline), page by page: to `outFile` (mode 600) or to stdout, waiting for stdout to drain.
 */
export async function writeChainStream(pages: AsyncIterable<readonly string[]>, outFile?: string): Promise<number> {
  const fd = outFile ? openSync(outFile, 'w', 0o600) : -1;
  const put = async (s: string): Promise<void> => {
    if (fd >= 0) {
      writeSync(fd, s);
      return;
    }
    if (!process.stdout.write(s)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  };
  let count = 0;
  try {
    for await (const page of pages) {
      if (page.length === 0) continue;
      await put((count === 0 ? '[\n' : ',\n') + page.join(',\n'));
      const before = count;
      count += page.length;
      if (Math.floor(count / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) {
        process.stderr.write(`export: ${count} events\n`);
      }
    }
    await put(count === 0 ? '[]\n' : '\n]\n');
  } catch (e) {
    if (fd >= 0) {
      closeSync(fd);
      rmSync(outFile!, { force: true }); // no half a chain left behind under the asked-for name
    }
    throw e;
  }
  if (fd >= 0) closeSync(fd);
  return count;
}
