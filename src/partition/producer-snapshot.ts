/**
 * Producer-state snapshots: `<20-digit offset>.snapshot`, the idempotent-producer table as of
 * that offset, so that open rebuilds it by reading the snapshot and scanning only the batches
 * after it. Written at roll and at close, atomically (tmp → fsync → rename → fsync folder).
 *
 * Format: one RecordBatch v2 (so it is CRC-32C protected and `seglog dump` reads it), one record
 * per producer: key = producerId as a decimal string, value = JSON `{ epoch, batches }`.
 */
import fs from 'node:fs'
import path from 'node:path'
import * as io from '../file-io.js'
import { checkBatch, decodeRecords, encodeBatch, segmentName } from '../segment/index.js'
import { ProducerStateTable, type BatchMetadata, type ProducerEntry } from './producer-state.js'

export const SNAPSHOT_SUFFIX = '.snapshot'
const SNAPSHOTS_KEPT = 2
const SNAPSHOT_BYTES_MAX = 64 * 1024 * 1024

export function writeSnapshot(dir: string, offset: number, table: ProducerStateTable, mode: number): void {
  const entries = table.entries()
  const records = entries.map((e) => ({ key: String(e.producerId), value: JSON.stringify({ epoch: e.epoch, batches: e.batches }), timestamp: 0 }))
  const name = segmentName(offset) + SNAPSHOT_SUFFIX
  const file = path.join(dir, name)
  const tmp = `${file}.tmp`
  // Always one batch, even with no producers (a batch of no records), so that an empty or cut
  // file is recognisably damaged rather than read as "no producers".
  const bytes = encodeBatch(records, {
    maxBatchBytes: SNAPSHOT_BYTES_MAX,
    maxRecordBytes: SNAPSHOT_BYTES_MAX,
    ...(records.length === 0 ? { lastOffsetDelta: 0, now: 0 } : {}),
  })
  const fd = io.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, mode)
  try {
    io.pwriteFully(fd, bytes, 0, bytes.length, 0)
    io.fdatasyncSync(fd)
  } finally {
    io.close(fd)
  }
  io.rename(tmp, file)
  io.fsyncDir(dir)
  pruneSnapshots(dir, offset)
}

function snapshotOffsets(dir: string): number[] {
  const offsets: number[] = []
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(SNAPSHOT_SUFFIX)) continue
    const digits = name.slice(0, -SNAPSHOT_SUFFIX.length)
    if (/^[0-9]{20}$/.test(digits)) offsets.push(Number(digits))
  }
  return offsets.sort((a, b) => a - b)
}

function pruneSnapshots(dir: string, newest: number): void {
  const older = snapshotOffsets(dir).filter((o) => o < newest)
  for (const o of older.slice(0, Math.max(0, older.length - (SNAPSHOTS_KEPT - 1)))) {
    io.unlinkIfExists(path.join(dir, segmentName(o) + SNAPSHOT_SUFFIX))
  }
}

/** Remove snapshots past `offset` (the log was truncated below them). */
export function deleteSnapshotsAfter(dir: string, offset: number): void {
  for (const o of snapshotOffsets(dir)) if (o > offset) io.unlinkIfExists(path.join(dir, segmentName(o) + SNAPSHOT_SUFFIX))
}

/**
 * The newest readable snapshot at or below `maxOffset`. A damaged snapshot is skipped (the log
 * scan from an older one, or from the start, rebuilds the same state).
 */
export function readLatestSnapshot(dir: string, maxOffset: number): { offset: number; table: ProducerStateTable } | undefined {
  for (const offset of snapshotOffsets(dir).reverse()) {
    if (offset > maxOffset) continue
    const table = parseSnapshot(path.join(dir, segmentName(offset) + SNAPSHOT_SUFFIX))
    if (table !== undefined) return { offset, table }
  }
  return undefined
}

function parseSnapshot(file: string): ProducerStateTable | undefined {
  let bytes: Buffer
  try {
    const fd = io.open(file, fs.constants.O_RDONLY)
    try {
      const size = io.fstatSize(fd)
      if (size > SNAPSHOT_BYTES_MAX) return undefined
      bytes = Buffer.allocUnsafe(size)
      io.preadFully(fd, bytes, 0, size, 0)
    } finally {
      io.close(fd)
    }
  } catch {
    return undefined
  }
  const check = checkBatch(bytes, 0, bytes.length, SNAPSHOT_BYTES_MAX)
  if (!check.ok || check.size !== bytes.length) return undefined
  try {
    const entries: ProducerEntry[] = decodeRecords(bytes, 0, check.header, { file, maxBatchBytes: SNAPSHOT_BYTES_MAX }).map((r) => {
      const parsed = JSON.parse(String(r.value)) as { epoch: number; batches: BatchMetadata[] }
      return { producerId: Number(String(r.key)), epoch: parsed.epoch, batches: parsed.batches }
    })
    return ProducerStateTable.from(entries)
  } catch {
    return undefined
  }
}
