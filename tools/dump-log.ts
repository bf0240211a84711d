/**
 * `seglog dump` for `.log` segment files: one line per batch, optionally one per record, in the
 * spirit of Kafka's `kafka-dump-log.sh` (DumpLogSegments), or NDJSON with `--json`.
 *
 * The file is scanned batch by batch with the batch scanner (bounds, magic and CRC checked before
 * anything is trusted) and each batch is written out before the next is read, so memory stays at
 * one read chunk whatever the file's size. The scan stops at the first invalid batch; the bytes
 * from there to the end are reported as Kafka's tool reports them ("found N invalid bytes at the
 * end of FILE").
 */
import { CorruptRecordError, UnsupportedFormatError } from '../src/errors.js'
import {
  scanBatches,
  type ScannedBatch,
  type ScanStep,
  codecOf,
  decodeRecords,
  hasLogAppendTime,
  isControlBatch,
  isTransactionalBatch,
  lastOffsetOf,
  type BatchHeader,
  type LogRecord,
} from '../src/segment/index.js'
import { CliError, describeError, isOperatingError } from './cli.js'
import type { InputFile } from './input-file.js'
import type { LineWriter } from './output.js'
import { startProgress } from './progress.js'
import { jsonBytes, textBytes, type ValueEncoding } from './value-encoding.js'

export interface LogDumpOptions {
  json: boolean
  records: boolean
  values: ValueEncoding
  maxBatchBytes: number
  /** Whether to print a "Dumping FILE" line first (text mode). */
  header: boolean
}

/** Names of Kafka's control record types (the key of a control record: version int16, type int16). */
const CONTROL_TYPES = ['ABORT', 'COMMIT', 'LEADER_CHANGE', 'SNAPSHOT_HEADER', 'SNAPSHOT_FOOTER', 'KRAFT_VERSION', 'KRAFT_VOTERS']

/** The batch fields of `--json` output, in order. */
export interface BatchJson {
  position: number
  baseOffset: number
  lastOffset: number
  count: number
  size: number
  crc: number
  valid: boolean
  codec: string
  producerId: number
  producerEpoch: number
  baseSequence: number
  isControl: boolean
  isTransactional: boolean
  maxTimestamp: number
}

export function batchJson(batch: ScannedBatch): BatchJson {
  const h = batch.header
  return {
    position: batch.position,
    baseOffset: h.baseOffset,
    lastOffset: lastOffsetOf(h),
    count: h.recordsCount,
    size: batch.size,
    crc: h.crc,
    // The scanner yields only batches that passed every check; an invalid one ends the scan.
    valid: true,
    codec: codecOf(h),
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    isControl: isControlBatch(h),
    isTransactional: isTransactionalBatch(h),
    maxTimestamp: h.maxTimestamp,
  }
}

function batchText(batch: ScannedBatch): string {
  const h = batch.header
  return (
    `baseOffset: ${h.baseOffset} lastOffset: ${lastOffsetOf(h)} count: ${h.recordsCount}` +
    ` baseSequence: ${h.baseSequence} producerId: ${h.producerId} producerEpoch: ${h.producerEpoch}` +
    ` partitionLeaderEpoch: ${h.partitionLeaderEpoch} isTransactional: ${isTransactionalBatch(h)} isControl: ${isControlBatch(h)}` +
    ` position: ${batch.position} ${hasLogAppendTime(h) ? 'LogAppendTime' : 'CreateTime'}: ${h.maxTimestamp}` +
    ` size: ${batch.size} magic: ${h.magic} codec: ${codecOf(h)} crc: ${h.crc} isvalid: true`
  )
}

/**
 * A record's timestamp as Kafka defines it: with log-append time the batch's maxTimestamp (the
 * broker's clock) replaces every record's own.
 */
function timestampOf(header: BatchHeader, record: LogRecord): number {
  return hasLogAppendTime(header) ? header.maxTimestamp : record.timestamp
}

function recordText(header: BatchHeader, record: LogRecord, values: ValueEncoding): string {
  const keySize = record.key === null ? -1 : record.key.length
  const valueSize = record.value === null ? -1 : record.value.length
  const headers = record.headers.map(([k, v]) => (values === 'none' ? textBytes(Buffer.from(k), 'utf8') : `${textBytes(Buffer.from(k), 'utf8')}: ${textBytes(v, values)}`))
  let line = `| offset: ${record.offset} timestamp: ${timestampOf(header, record)} keySize: ${keySize} valueSize: ${valueSize} headers: [${headers.join(', ')}]`
  if (isControlBatch(header) && record.key !== null && record.key.length >= 4) {
    const type = record.key.readInt16BE(2)
    line += ` controlType: ${CONTROL_TYPES[type] ?? `unknown(${type})`}`
  }
  if (values !== 'none') line += ` key: ${textBytes(record.key, values)} value: ${textBytes(record.value, values)}`
  return line
}

function recordJson(header: BatchHeader, record: LogRecord, values: ValueEncoding): object {
  return {
    offset: record.offset,
    timestamp: timestampOf(header, record),
    key: jsonBytes(record.key, values),
    value: jsonBytes(record.value, values),
    headers: record.headers.map(([k, v]) => [k, jsonBytes(v, values)]),
  }
}

/** The records of a batch, or why they cannot be read (corrupt or unsupported: a problem). */
function readRecords(input: InputFile, batch: ScannedBatch, maxBatchBytes: number): LogRecord[] | CorruptRecordError | UnsupportedFormatError {
  try {
    return decodeRecords(batch.buffer, batch.at, batch.header, { file: input.path, position: batch.position, maxBatchBytes })
  } catch (err) {
    if (err instanceof CorruptRecordError || err instanceof UnsupportedFormatError) return err
    throw err
  }
}

/** Dump a `.log` file; returns the number of problems found. */
export async function dumpLog(input: InputFile, out: LineWriter, options: LogDumpOptions): Promise<number> {
  const fileJson = JSON.stringify(input.path)
  if (options.header && !options.json) await out.line(`Dumping ${input.path}`)
  const progress = startProgress({ label: input.path, totalBytes: input.size, outputToStdout: true })
  let problems = 0
  let invalid: { position: number; message: string; problem: string } | undefined
  try {
    for (const step of scanSteps(input, options.maxBatchBytes)) {
      if (step.kind === 'invalid') {
        invalid = step
        break
      }
      progress.update(step.position)
      const records = options.records ? readRecords(input, step, options.maxBatchBytes) : undefined
      if (records instanceof Error) problems++
      if (options.json) {
        const batch: Record<string, unknown> = { file: input.path, ...batchJson(step) }
        if (records instanceof Error) batch.recordsError = { code: records.code, message: records.message }
        else if (records !== undefined) batch.records = records.map((r) => recordJson(step.header, r, options.values))
        await out.line(JSON.stringify(batch))
        continue
      }
      await out.line(batchText(step))
      if (records instanceof Error) await out.line(`| error: ${records.message}`)
      else if (records !== undefined) for (const record of records) await out.line(recordText(step.header, record, options.values))
    }
  } finally {
    progress.stop()
  }
  if (invalid === undefined) return problems
  const invalidBytes = input.size - invalid.position
  if (options.json) {
    await out.line(
      `{"file":${fileJson},"invalidBytes":${invalidBytes},"position":${invalid.position},"problem":${JSON.stringify(invalid.problem)},"message":${JSON.stringify(invalid.message)}}`,
    )
  } else {
    await out.flush() // so that the message follows the batches on a terminal
    process.stderr.write(`found ${invalidBytes} invalid bytes at the end of ${input.path} (position ${invalid.position}: ${invalid.message})\n`)
  }
  return problems + 1
}

/** The scanner's steps, with a read error (EIO, …) worded for the command line. */
function* scanSteps(input: InputFile, maxBatchBytes: number): Generator<ScanStep, void, undefined> {
  const steps = scanBatches(input.fd, { end: input.size, maxBatchBytes })
  for (;;) {
    let next: IteratorResult<ScanStep, void>
    try {
      next = steps.next()
    } catch (err) {
      // An I/O error is the user's to act on; anything else is a bug, reported with its stack.
      if (!isOperatingError(err)) throw err
      throw new CliError(`cannot read '${input.path}': ${describeError(err)}`, { cause: err })
    }
    if (next.done === true) return
    yield next.value
  }
}
