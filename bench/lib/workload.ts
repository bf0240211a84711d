/** Records, raw-disk baselines and partition helpers shared by the scenarios. */
import fs from 'node:fs'
import path from 'node:path'
import { Partition } from '../../src/seglog.js'
import { crc32c, encodeBatch, type RecordInput } from '../../src/segment/index.js'
import { okRow, type Row } from './result.js'
import { MiB, nowMs, Samples, secondsSince, syncDisk } from './stats.js'

/** `count` records with `valueBytes`-byte values and short keys (as a producer would send). */
export function makeRecords(count: number, valueBytes: number, fill = 0x61): RecordInput[] {
  const value = Buffer.alloc(valueBytes, fill)
  return Array.from({ length: count }, (_, i) => ({ key: `key-${i}`, value }))
}

/** The same records as (key, value) buffers, for the peers. */
export function asPairs(records: readonly RecordInput[]): Array<readonly [Buffer, Buffer]> {
  return records.map((r) => [Buffer.from(r.key as string), r.value as Buffer] as const)
}

/** Bytes of keys and values (what a peer stores per record, without framing). */
export function payloadBytes(records: readonly RecordInput[]): number {
  return records.reduce((sum, r) => sum + Buffer.byteLength(r.key as string) + (r.value as Buffer).length, 0)
}

/**
 * Raw baseline: `fs.writeSync` of `framed` (the very bytes seglog writes for one batch) `batches`
 * times to a new file, no fsync. The file is deleted after, so its dirty pages do not slow what
 * runs next.
 */
export function rawWrite(dir: string, framed: Buffer, batches: number, recordsPerBatch: number, label: string): Row {
  const file = path.join(dir, 'raw-write.bin')
  syncDisk()
  const fd = fs.openSync(file, 'w')
  const start = nowMs()
  for (let i = 0; i < batches; i++) fs.writeSync(fd, framed)
  const seconds = secondsSince(start)
  fs.closeSync(fd)
  fs.rmSync(file)
  return okRow({ system: 'raw', role: 'baseline', label, durability: 'no fsync', seconds, records: batches * recordsPerBatch, bytes: batches * framed.length, ops: batches })
}

/**
 * Raw baseline: write `framed` then `fdatasync`, one after the other, until `count` or `seconds`.
 * Each op's latency is recorded.
 */
export function rawWriteSync(dir: string, framed: Buffer, count: number, seconds: number, recordsPerBatch: number, label: string): Row {
  const file = path.join(dir, 'raw-sync.bin')
  syncDisk()
  const fd = fs.openSync(file, 'w')
  const samples = new Samples()
  const deadline = nowMs() + seconds * 1000
  const start = nowMs()
  let ops = 0
  while (ops < count) {
    const t = nowMs()
    fs.writeSync(fd, framed)
    fs.fdatasyncSync(fd)
    samples.add(nowMs() - t)
    ops++
    if (nowMs() > deadline) break
  }
  const secs = secondsSince(start)
  fs.closeSync(fd)
  fs.rmSync(file)
  return okRow({
    system: 'raw',
    role: 'baseline',
    label,
    durability: 'write + fdatasync',
    seconds: secs,
    records: ops * recordsPerBatch,
    bytes: ops * framed.length,
    ops,
    latencyMs: samples.latency(),
  })
}

/** The `.log` files of a partition folder, oldest first. */
export function logFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((n) => path.join(dir, n))
}

/** Read `files` with readSync in 1 MiB chunks, optionally CRC-32C'ing each chunk; returns bytes read. */
export function readFiles(files: readonly string[], crc: boolean): number {
  const chunk = Buffer.allocUnsafe(MiB)
  let total = 0
  for (const file of files) {
    const fd = fs.openSync(file, 'r')
    try {
      let pos = 0
      for (;;) {
        const n = fs.readSync(fd, chunk, 0, chunk.length, pos)
        if (n === 0) break
        if (crc) crc32c(chunk.subarray(0, n))
        pos += n
      }
      total += pos
    } finally {
      fs.closeSync(fd)
    }
  }
  return total
}

/**
 * Fill a partition with `batches` copies of `records` (fsync 'never'), for the read scenarios.
 * Returns the number of records written.
 */
export async function fillPartition(dir: string, records: readonly RecordInput[], batches: number, options: { segmentBytes?: number } = {}): Promise<number> {
  const p = await Partition.open(dir, { fsync: 'never', ...options })
  try {
    for (let i = 0; i < batches; i++) await p.append(records)
  } finally {
    await p.close()
  }
  return batches * records.length
}

/** Batches of `framedBytes` that fit in `totalBytes` (at least one). */
export function batchesFor(totalBytes: number, framedBytes: number): number {
  return Math.max(1, Math.floor(totalBytes / framedBytes))
}

export function framedBatch(records: readonly RecordInput[]): Buffer {
  return encodeBatch(records)
}
