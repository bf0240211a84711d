/**
 * How `seglog verify` judges invalid bytes in a `.log`: as recovery (src/partition/recovery.ts)
 * will treat them, so that the message says what open or `seglog recover` is going to do.
 *
 * | segment                  | valid batch after? | rest of the log within --max-unsynced-bytes? | kind      | recover           |
 * |--------------------------|--------------------|----------------------------------------------|-----------|-------------------|
 * | last of its partition    | no                 | —                                            | torn-tail | cuts the tail     |
 * | last of its partition    | yes                | yes                                          | torn-tail | cuts the tail     |
 * | last of its partition    | yes                | no                                           | corrupt   | keeps what follows |
 * | sealed                   | no                 | —                                            | corrupt   | drops the bytes   |
 * | sealed                   | yes                | —                                            | corrupt   | keeps what follows |
 *
 * A sealed segment was fsync'd whole before the next one was created, so no crash can tear it:
 * invalid bytes there are always damage ('corrupt'), wherever they are, and recovery keeps the
 * segments after them. A standalone file (not in a partition folder) is judged as a last segment.
 *
 * Pure: a function of the facts, tested over every row of the table.
 */
import type { ProblemKind } from './verify-problem.js'

export interface Damage {
  /** Position of the first invalid byte, and why it is invalid. */
  position: number
  reason: string
  /** Size of the `.log` (as the scan saw it). */
  size: number
  /** The next valid batch after the damage (offsets not below `expectedOffset`), if any. */
  resync: { position: number; baseOffset: number } | undefined
  /** The offset the damaged bytes should have started at, if known. */
  expectedOffset: number | undefined
  last: boolean
  inPartition: boolean
  /** Bytes of the partition's segments after this one. */
  laterBytes: number
  maxUnsyncedBytes: number
}

export interface Verdict {
  kind: Extract<ProblemKind, 'torn-tail' | 'corrupt'>
  message: string
  /** Whether to go on checking from `resync` (the bytes are there, and may be kept). */
  goOn: boolean
}

export function judgeDamage(d: Damage): Verdict {
  const { position: at, reason, size, resync, maxUnsyncedBytes } = d
  const tailBytes = size - at
  if (d.last) {
    const cut = d.inPartition ? `open or 'seglog recover' will cut ${tailBytes} bytes` : `${tailBytes} bytes would be cut`
    if (resync === undefined) {
      return { kind: 'torn-tail', goOn: false, message: `the last ${tailBytes} bytes are not a whole valid batch (${reason}): a write cut short by a crash; ${cut}` }
    }
    if (tailBytes <= maxUnsyncedBytes) {
      return {
        kind: 'torn-tail',
        goOn: false,
        message:
          `${resync.position - at} invalid bytes (${reason}); valid batches follow at position ${resync.position}, but within the last ` +
          `${maxUnsyncedBytes} bytes of the log, where a crash can leave unsynced writes half on disk: ${cut}, those batches included`,
      }
    }
  } else {
    const sealed = 'this sealed segment was complete when sealed, so this is damage, not a torn write'
    if (resync === undefined) {
      return { kind: 'corrupt', goOn: false, message: `the last ${tailBytes} bytes of this sealed segment are not valid batches (${reason}); ${sealed}; 'seglog recover' drops them` }
    }
  }
  const expected = d.expectedOffset
  const lost =
    expected === undefined
      ? `offsets below ${resync.baseOffset} may be lost`
      : resync.baseOffset > expected
        ? `offsets ${expected} to ${resync.baseOffset - 1} are lost`
        : 'no offset is lost'
  return {
    kind: 'corrupt',
    goOn: true,
    message: `${resync.position - at} invalid bytes (${reason}); valid batches follow at position ${resync.position} (offset ${resync.baseOffset}), which 'seglog recover' keeps: ${lost}`,
  }
}
