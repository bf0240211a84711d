/**
 * Small text files beside a partition's segments, each one number, written atomically and
 * durably (tmp → fsync → rename → fsync folder):
 *
 *   log-start-offset   first offset still readable (moved by retention and deleteRecordsBefore)
 *   recovery-point     every segment below this base offset was sealed and fsync'd
 *   clean-shutdown     present only between a clean close and the next open for writing
 *   cleaner-offset     compacted partitions: offsets below it are compacted
 *
 * Format: `<decimal offset>\n`. A file that does not parse is reported and ignored (its value is
 * re-derived from the segments), never trusted.
 */
import fs from 'node:fs'
import path from 'node:path'
import * as io from '../file-io.js'

export const LOG_START_OFFSET_FILE = 'log-start-offset'
export const RECOVERY_POINT_FILE = 'recovery-point'
export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown'
/** Everything below this offset has been compacted (compacted partitions only). */
export const CLEANER_OFFSET_FILE = 'cleaner-offset'
/** Published by a writer under `fsync: 'always'` so read-only processes stop at the durable offset. */
export const DURABLE_OFFSET_FILE = 'durable-offset'
export const LOCK_FILE = '.lock'
const CHECKPOINT_BYTES_MAX = 64

/** The number in `dir/name`; undefined if missing; `NaN` if present but malformed. */
export function readCheckpoint(dir: string, name: string): number | undefined {
  let text: string
  try {
    const fd = io.open(path.join(dir, name), fs.constants.O_RDONLY)
    try {
      const buf = Buffer.alloc(CHECKPOINT_BYTES_MAX)
      text = buf.toString('utf8', 0, io.pread(fd, buf, 0, buf.length, 0))
    } finally {
      io.close(fd)
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if (!/^[0-9]{1,16}\n$/.test(text)) return NaN
  const value = Number(text.trim())
  return Number.isSafeInteger(value) ? value : NaN
}

export function writeCheckpoint(dir: string, name: string, value: number, mode: number): void {
  io.writeFileAtomic(dir, name, `${value}\n`, mode)
}
