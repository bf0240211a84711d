/**
 * `seglog dump` for `.index` and `.timeindex` files, read with plain preads (no mmap, and no
 * dependency on src/index: a dump must work on an index the library would refuse).
 *
 * Formats (big-endian, no header, no checksum; entries back to back):
 *
 * `.index`, {@link OFFSET_ENTRY_BYTES} bytes per entry:
 * | pos | size | field                 |
 * |-----|------|-----------------------|
 * |   0 |    4 | relativeOffset uint32 | offset − the base offset in the file's name
 * |   4 |    4 | position uint32       | byte position of a batch in the `.log`
 *
 * `.timeindex`, {@link TIME_ENTRY_BYTES} bytes per entry:
 * | pos | size | field                 |
 * |-----|------|-----------------------|
 * |   0 |    8 | timestamp int64       |
 * |   8 |    4 | relativeOffset uint32 |
 *
 * An index file is preallocated and trimmed to its entries only on roll or clean close, so after
 * a crash it ends in zeros. The dump stops at the first entry that does not follow the previous
 * one (offset and position increasing; timestamp not decreasing and offset not decreasing, not
 * both equal): if everything from there is zero it is the preallocated tail, reported as such;
 * otherwise the bytes from there are invalid, a problem. An all-zero first entry counts only when
 * the next entry follows it: alone, it is indistinguishable from preallocation, and an entry
 * "base offset → position 0" says nothing a lookup does not assume anyway.
 */
import path from 'node:path'
import { CliError } from './cli.js'
import { readAt, type InputFile } from './input-file.js'
import type { LineWriter } from './output.js'

export const OFFSET_ENTRY_BYTES = 8
export const TIME_ENTRY_BYTES = 12
/** A multiple of both entry sizes, so that no entry straddles two reads. */
const READ_CHUNK_BYTES = 24 * 4096

interface IndexEntry {
  relativeOffset: number
  /** `.index`: position; `.timeindex`: timestamp. */
  other: number
}

interface IndexFormat {
  entryBytes: number
  read(buf: Buffer, at: number): IndexEntry
  follows(prev: IndexEntry, next: IndexEntry): boolean
  describe(entry: IndexEntry, baseOffset: number): string
  json(entry: IndexEntry, baseOffset: number): Record<string, number>
}

const OFFSET_INDEX: IndexFormat = {
  entryBytes: OFFSET_ENTRY_BYTES,
  read: (buf, at) => ({ relativeOffset: buf.readUInt32BE(at), other: buf.readUInt32BE(at + 4) }),
  follows: (prev, next) => next.relativeOffset > prev.relativeOffset && next.other > prev.other,
  describe: (e, base) => `offset: ${base + e.relativeOffset} position: ${e.other}`,
  json: (e, base) => ({ offset: base + e.relativeOffset, position: e.other }),
}

const TIME_INDEX: IndexFormat = {
  entryBytes: TIME_ENTRY_BYTES,
  // Two 32-bit reads: exact for |timestamp| < 2^53, which every millisecond timestamp is.
  read: (buf, at) => ({ other: buf.readInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4), relativeOffset: buf.readUInt32BE(at + 8) }),
  follows: (prev, next) =>
    next.other >= prev.other && next.relativeOffset >= prev.relativeOffset && (next.other > prev.other || next.relativeOffset > prev.relativeOffset),
  describe: (e, base) => `timestamp: ${e.other} offset: ${base + e.relativeOffset}`,
  json: (e, base) => ({ timestamp: e.other, offset: base + e.relativeOffset }),
}

/** The base offset in a segment file's 20-digit name (`00000000000000000042.index` → 42). */
export function baseOffsetOfFile(file: string): number {
  const stem = path.basename(file).split('.')[0] ?? ''
  if (!/^\d{20}$/.test(stem)) {
    throw new CliError(`cannot dump '${file}': its name must be a 20-digit base offset (as 00000000000000000000.index) to give absolute offsets`)
  }
  const baseOffset = Number(stem)
  if (!Number.isSafeInteger(baseOffset)) throw new CliError(`cannot dump '${file}': base offset ${stem} is above 2^53 - 1`)
  return baseOffset
}

export interface IndexDumpOptions {
  json: boolean
  /** Whether to print a "Dumping FILE" line first (text mode). */
  header: boolean
}

/** Dump an index file; returns the number of problems found (0 or 1). */
export async function dumpIndex(input: InputFile, kind: 'index' | 'timeindex', out: LineWriter, options: IndexDumpOptions): Promise<number> {
  const format = kind === 'index' ? OFFSET_INDEX : TIME_INDEX
  const baseOffset = baseOffsetOfFile(input.path)
  const fileJson = JSON.stringify(input.path)
  const emit = (entry: IndexEntry): Promise<void> =>
    out.line(options.json ? `{"file":${fileJson},${JSON.stringify(format.json(entry, baseOffset)).slice(1)}` : format.describe(entry, baseOffset))
  if (options.header && !options.json) await out.line(`Dumping ${input.path}`)

  const { entryBytes } = format
  const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(input.size, entryBytes)))
  let prev: IndexEntry | undefined
  let heldZero: IndexEntry | undefined // an all-zero first entry, waiting for the next one to decide
  let stopAt = -1
  let why = ''
  let position = 0
  scan: while (position + entryBytes <= input.size) {
    const bytes = readAt(input, buf, Math.min(buf.length, input.size - position), position)
    if (bytes < entryBytes) break // the file shrank while we read it; what is left is checked below
    for (let at = 0; at + entryBytes <= bytes; at += entryBytes, position += entryBytes) {
      const entry = format.read(buf, at)
      if (position === 0 && isZero(buf, at, at + entryBytes)) {
        heldZero = entry
        continue
      }
      if (heldZero !== undefined) {
        if (!format.follows(heldZero, entry)) {
          stopAt = 0
          break scan
        }
        await emit(heldZero)
        prev = heldZero
        heldZero = undefined
      }
      if (prev !== undefined && !format.follows(prev, entry)) {
        stopAt = position
        why = `entry ${format.describe(entry, baseOffset)} does not follow ${format.describe(prev, baseOffset)}`
        break scan
      }
      await emit(entry)
      prev = entry
    }
  }
  if (stopAt < 0) stopAt = heldZero !== undefined ? 0 : position
  if (why === '') why = stopAt === 0 ? 'the first entries are not a valid index' : `a partial entry of ${input.size - stopAt} bytes`
  return reportTail(input, stopAt, why, out, options)
}

async function reportTail(input: InputFile, stopAt: number, why: string, out: LineWriter, options: IndexDumpOptions): Promise<number> {
  const tailBytes = input.size - stopAt
  if (tailBytes <= 0) return 0
  const fileJson = JSON.stringify(input.path)
  if (await zeroFrom(input, stopAt)) {
    await out.line(
      options.json
        ? `{"file":${fileJson},"zeroFilledBytes":${tailBytes},"position":${stopAt}}`
        : `${tailBytes} zero-filled bytes at the end (preallocated, not yet trimmed)`,
    )
    return 0
  }
  if (options.json) {
    await out.line(`{"file":${fileJson},"invalidBytes":${tailBytes},"position":${stopAt},"problem":"bad-entry","message":${JSON.stringify(why)}}`)
  } else {
    await out.flush() // so that the message follows the entries on a terminal
    process.stderr.write(`found ${tailBytes} invalid bytes at the end of ${input.path} (position ${stopAt}: ${why})\n`)
  }
  return 1
}

function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false
  return true
}

/** Whether every byte from `position` to the end of the file is zero. */
async function zeroFrom(input: InputFile, position: number): Promise<boolean> {
  const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, input.size - position))
  while (position < input.size) {
    const bytes = readAt(input, buf, Math.min(buf.length, input.size - position), position)
    if (bytes === 0) return true // the file shrank: nothing more to look at
    if (!isZero(buf, 0, bytes)) return false
    position += bytes
  }
  return true
}
