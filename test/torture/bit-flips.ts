/**
 * Scenario 4, bit flips. Every bit of a small reference segment (a sealed segment, valid segments
 * after it) and a random sample of the bits of a large one (the active segment, so that flips in
 * its last `maxUnsyncedBytes` are torn writes and the rest corruption) is flipped in turn. Each flip:
 *
 * - `seglog verify` reports a problem;
 * - open with full recovery reports it: it throws `ERR_CORRUPT_RECORD` naming the file and a
 *   position at or before the flipped byte's batch end, or — only for damage inside the torn-write
 *   window — cuts it and reports the bytes cut; it never silently drops valid data after the flip;
 * - reading everything back, after that open and after a plain open that trusts the
 *   clean-shutdown marker, gives every record unchanged or a typed `ERR_CORRUPT_RECORD` — never a
 *   changed record;
 * - (a sample) open with `repair: true` loses only the offsets of the damaged batch.
 *
 * Flips the format cannot see are counted apart: `partitionLeaderEpoch` is covered by no check in
 * Kafka's format and holds no record data; verify sees it only when it goes below -1 or decreases.
 */
import path from 'node:path'
import { fork } from 'node:child_process'
import { CorruptRecordError, SeglogError } from '../../src/errors.js'
import { Partition, type PartitionOptions } from '../../src/partition/index.js'
import type { LogRecord } from '../../src/segment/index.js'
import { collectMappings, describe, distDir, readFolder, removeScratch, Random, Report, scratch, verifyHere, writeFolder, type Level, type Outcome } from './support.js'

const SMALL_OPTIONS: PartitionOptions = { fsync: 'always', segmentBytes: 2048, indexIntervalBytes: 256, maxIndexBytes: 1024, maxUnsyncedBytes: 256 }
const LARGE_OPTIONS: PartitionOptions = { fsync: 'always', segmentBytes: 64 * 1024 * 1024, indexIntervalBytes: 4096, maxIndexBytes: 64 * 1024, maxUnsyncedBytes: 4096 }
const LARGE_BYTES: Record<Level, number> = { test: 64 * 1024, quick: 128 * 1024, full: 256 * 1024 }
const LARGE_FLIPS: Record<Level, number> = { test: 300, quick: 3000, full: 100_000 }
/** Bits of the small segment: all of them, or every Nth for the short levels. */
const SMALL_STRIDE: Record<Level, number> = { test: 61, quick: 8, full: 1 }
/** One flip of the large segment in this many also gets a plain open (trusting the clean-shutdown marker) and a read of everything. */
const PLAIN_OPEN_EVERY = 4
/** One flip in this many also gets a repair. */
const REPAIR_EVERY = 16

interface Reference {
  name: string
  files: Map<string, Buffer>
  options: PartitionOptions
  /** The segment flipped. */
  target: string
  /** offset → value (hex) */
  values: Map<number, string>
  /** Batches of the target: position, size, first and last offset. */
  batches: Array<{ position: number; size: number; base: number; last: number }>
  /** Bytes of segments after the target. */
  after: number
}

export async function bitFlips(level: Level, seed: number): Promise<Outcome> {
  const report = new Report('bit-flips', seed)
  // Two cores: the flips are shared by two worker threads when running built (npm run torture).
  const workers = level !== 'test' && import.meta.url.endsWith('.js') ? 2 : 1
  if (workers === 1) await share(level, seed, 0, 1, report)
  else {
    // Child processes, not worker threads: threads of one process contend for its memory map
    // (every open maps index files), which leaves the second core idle.
    const parts = await Promise.all(
      Array.from({ length: workers }, (_, i) =>
        new Promise<Part>((resolve, reject) => {
          const child = fork(path.join(distDir(), 'test/torture/bit-flips.js'), [], {
            env: { ...process.env, TORTURE_WORKER: JSON.stringify({ scenario: 'bit-flips', level, seed, index: i, of: workers }) },
            execArgv: ['--expose-gc'],
          })
          let part: Part | undefined
          child.once('message', (message) => (part = message as Part))
          child.once('error', reject)
          child.once('exit', (code) => (part !== undefined ? resolve(part) : reject(new Error(`bit-flips worker ${i} exited with ${code} before reporting`))))
        }),
      ),
    )
    for (const part of parts) merge(report, part)
  }
  const small = SMALL_STRIDE[level] > 1 ? ` / ${SMALL_STRIDE[level]}` : ''
  return report.done(
    `${report.get('flips')} flips (every bit of a ${report.get('smallSegmentBytes') / workers}-byte segment${small}, ` +
      `${report.get('largeFlips')} of a ${Math.round(report.get('largeSegmentBytes') / workers / 1024)} KiB one), ` +
      `${report.get('verifyDetected')} detected by verify, ${report.get('openRefused')} refused by open with their position, ${report.get('openCutTorn')} cut as torn writes, ` +
      `${report.get('harmless')} harmless (partitionLeaderEpoch), ${report.get('undetectedChanges')} undetected changes to a record, ` +
      `${report.get('validDataDropped')} valid data dropped, ${report.get('repairs')} repairs losing ${report.get('repairLostOffsets')} offsets`,
  )
}

interface Part {
  figures: Record<string, number | string | boolean>
  failures: string[]
  failureCount: number
}

function merge(report: Report, part: Part): void {
  for (const [name, value] of Object.entries(part.figures)) {
    if (typeof value === 'number') report.count(name, value)
  }
  const known = new Set([...String(report.figures.knownIssues ?? '').split('; '), ...String(part.figures.knownIssues ?? '').split('; ')].filter((k) => k !== ''))
  if (known.size > 0) report.figures.knownIssues = [...known].join('; ')
  for (const f of part.failures) report.fail(f)
  report.failureCount += part.failureCount - part.failures.length
}

/** The flips numbered `index` modulo `of`, on references built the same way in every worker. */
async function share(level: Level, seed: number, index: number, of: number, report: Report): Promise<void> {
  // The references are built from the seed alone (no clock), so every worker flips the same bytes.
  const random = new Random(seed)
  try {
    const base = scratch('memory')
    const small = await build('small', path.join(base, 'small-ref'), SMALL_OPTIONS, random, 2)
    const large = await build('large', path.join(base, 'large-ref'), LARGE_OPTIONS, random, LARGE_BYTES[level])
    const work = path.join(base, 'work')
    const smallBits = (small.files.get(small.target) as Buffer).length * 8
    let n = 0
    for (let bit = 0; bit < smallBits; bit += SMALL_STRIDE[level]) if (n++ % of === index) await flip(small, work, bit, report, bit % REPAIR_EVERY === 0)
    const largeBits = (large.files.get(large.target) as Buffer).length * 8
    const sample = new Random(seed + 1)
    for (let i = 0; i < LARGE_FLIPS[level]; i++) {
      const bit = sample.int(0, largeBits - 1)
      if (i % of === index) await flip(large, work, bit, report, i % REPAIR_EVERY === 0, i % PLAIN_OPEN_EVERY === 0)
    }
    report.figures.smallSegmentBytes = smallBits / 8
    report.figures.largeSegmentBytes = largeBits / 8
  } catch (err) {
    report.fail(`the scenario threw ${describe(err)} (seed ${seed}, worker ${index})`)
  } finally {
    removeScratch()
  }
}

/** A partition whose first (small) or only (large) segment is the target. */
async function build(name: 'small' | 'large', dir: string, options: PartitionOptions, random: Random, size: number): Promise<Reference> {
  const p = await Partition.open(dir, options)
  const values = new Map<number, string>()
  const done = (): boolean => (name === 'small' ? p.segmentCount >= 3 : p.sizeBytes >= size)
  while (!done()) {
    const count = random.int(1, name === 'small' ? 3 : 8)
    const records = Array.from({ length: count }, (_, i) => ({
      timestamp: 1_700_000_000_000 + values.size + i,
      key: random.chance(0.2) ? null : `k${i}`,
      value: random.chance(0.05) ? null : random.bytes(random.int(0, name === 'small' ? 80 : 200)),
      headers: random.chance(0.3) ? [['h', random.bytes(random.int(0, 8))] as [string, Buffer]] : [],
    }))
    const r = await p.append(records)
    records.forEach((rec, i) => values.set(r.baseOffset + i, plain(rec.key === null ? null : Buffer.from(rec.key), rec.value, rec.headers)))
  }
  const segments = p.segments()
  await p.close()
  const files = readFolder(dir)
  const target = path.basename((segments[0] as { file: string }).file)
  const log = files.get(target) as Buffer
  const batches: Reference['batches'] = []
  for (let at = 0; at + 61 <= log.length; ) {
    const size = log.readInt32BE(at + 8) + 12
    const base = Number(log.readBigInt64BE(at))
    batches.push({ position: at, size, base, last: base + log.readInt32BE(at + 23) })
    at += size
  }
  const after = segments.slice(1).reduce((n, s) => n + s.sizeBytes, 0)
  return { name, files, options, target, values, batches, after }
}

const FIELDS: ReadonlyArray<[number, string]> = [
  [0, 'baseOffset'],
  [8, 'batchLength'],
  [12, 'partitionLeaderEpoch'],
  [16, 'magic'],
  [17, 'crc'],
  [21, 'attributes'],
  [23, 'lastOffsetDelta'],
  [27, 'baseTimestamp'],
  [35, 'maxTimestamp'],
  [43, 'producerId'],
  [51, 'producerEpoch'],
  [53, 'baseSequence'],
  [57, 'recordsCount'],
  [61, 'records'],
]

/** The batch header field (or 'records') at `at` bytes into a batch. */
export function fieldOf(at: number): string {
  let name = 'baseOffset'
  for (const [from, field] of FIELDS) if (at >= from) name = field
  return name
}

function plain(key: Buffer | null, value: Uint8Array | null, headers: ReadonlyArray<readonly [string, Uint8Array | null]>): string {
  const hex = (b: Uint8Array | null): string => (b === null ? '-' : Buffer.from(b).toString('hex'))
  return `${hex(key)}|${hex(value)}|${headers.map(([k, v]) => `${k}=${hex(v)}`).join(',')}`
}

function plainOf(r: LogRecord): string {
  return plain(r.key, r.value, r.headers)
}

/** Read everything from the log start; records that differ from the reference are counted. */
function readAll(p: Partition, ref: Reference): { changed: string | undefined; offsets: number[]; error: unknown } {
  const offsets: number[] = []
  try {
    for (let next = p.logStartOffset; ; ) {
      const { records, nextOffset } = p.read({ from: next, maxBytes: 1 << 20 })
      for (const r of records) {
        offsets.push(r.offset)
        const want = ref.values.get(r.offset)
        if (want !== plainOf(r)) return { changed: `offset ${r.offset} reads back as ${plainOf(r).slice(0, 60)}, written: ${String(want).slice(0, 60)}`, offsets, error: undefined }
      }
      if (nextOffset <= next) break
      next = nextOffset
    }
  } catch (err) {
    return { changed: undefined, offsets, error: err }
  }
  return { changed: undefined, offsets, error: undefined }
}

async function flip(ref: Reference, work: string, bit: number, report: Report, repair: boolean, plainOpen = true): Promise<void> {
  report.count('flips')
  // Up to three opens per flip, most of them refused: count attempts, not successes.
  await collectMappings(150)
  if (ref.name === 'large') report.count('largeFlips')
  const byte = bit >> 3
  const original = ref.files.get(ref.target) as Buffer
  const damaged = Buffer.from(original)
  damaged[byte] = (damaged[byte] as number) ^ (0x80 >> (bit & 7))
  const files = new Map(ref.files)
  files.set(ref.target, damaged)
  const batch = ref.batches.find((b) => b.position <= byte && byte < b.position + b.size) as Reference['batches'][number]
  const inEpoch = byte - batch.position >= 12 && byte - batch.position < 16
  const field = fieldOf(byte - batch.position)
  const what = `${ref.name} segment, bit ${bit & 7} of byte ${byte} (${field} of the batch at ${batch.position}, offsets ${batch.base}-${batch.last}; seed ${report.seed})`
  const failure = (counter: string | undefined, message: string): void => {
    if (counter !== undefined) report.count(counter)
    report.fail(message)
  }
  const maxUnsynced = ref.options.maxUnsyncedBytes as number
  const limits = { maxUnsyncedBytes: maxUnsynced }

  // 1. verify
  writeFolder(work, files)
  const verified = await verifyHere([work], limits)
  const verifyDetected = !verified.ok
  if (verifyDetected) report.count('verifyDetected')

  // 2. open with full recovery (no clean-shutdown marker, every segment scanned)
  const crashed = new Map(files)
  crashed.delete('clean-shutdown')
  writeFolder(work, crashed)
  let openDetected = false
  let harmless = false
  try {
    const p = await Partition.open(work, { ...ref.options, fullRecovery: true })
    try {
      const cut = p.recovery.truncatedBytes
      if (cut > 0) {
        openDetected = true
        report.count('openCutTorn')
        // Cut as a torn write: only allowed inside the window a crash can tear.
        const tail = original.length + ref.after - batch.position
        const lastBatch = ref.after === 0 && batch.position + batch.size === original.length
        if (tail > maxUnsynced && !lastBatch) {
          failure('validDataDropped', `${what}: open cut ${cut} bytes as a torn write, but ${tail} bytes from the damaged batch to the end is more than maxUnsyncedBytes ${maxUnsynced}`)
        }
      }
      const read = readAll(p, ref)
      if (read.changed !== undefined) {
        failure('undetectedChanges', `${what}: after a full-recovery open, ${read.changed}`)
      } else if (read.error !== undefined) {
        if (!(read.error instanceof CorruptRecordError)) failure(undefined, `${what}: reading after a full-recovery open threw ${describe(read.error)}`)
        else openDetected = true
      } else if (cut === 0) {
        // Nothing reported, everything read back intact: harmless, or a record was lost unseen.
        const expected = [...ref.values.keys()].filter((o) => o >= p.logStartOffset)
        if (read.offsets.length !== expected.length) {
          failure('undetectedChanges', `${what}: open reported nothing, but ${expected.length - read.offsets.length} records are missing`)
        } else harmless = true
      }
    } finally {
      await p.close().catch(() => {})
    }
  } catch (err) {
    if (err instanceof CorruptRecordError) {
      openDetected = true
      report.count('openRefused')
      const within = err.file !== undefined && path.basename(err.file) === ref.target && err.position !== undefined && err.position <= batch.position + batch.size
      if (!within) failure(undefined, `${what}: open refused, naming ${err.file === undefined ? 'no file' : path.basename(err.file)} position ${String(err.position)}, not at or before the damaged batch's end`)
    } else failure(undefined, `${what}: a full-recovery open threw ${describe(err)}`)
  }
  if (harmless) {
    if (inEpoch) report.count('harmless')
    else if (!verifyDetected) {
      failure('undetectedChanges', `${what}: neither verify nor open noticed the flip (outside partitionLeaderEpoch)`)
    } else report.count('harmlessSeenByVerify')
  } else if (!verifyDetected) {
    failure(undefined, `${what}: open ${openDetected ? 'reported' : 'did not report'} the flip, but verify found nothing`)
  }

  // 3. a plain open trusting the clean-shutdown marker: reads give the records or a typed error.
  if (plainOpen) writeFolder(work, files)
  if (plainOpen) try {
    const p = await Partition.open(work, ref.options)
    try {
      const read = readAll(p, ref)
      if (read.changed !== undefined) {
        failure('undetectedChanges', `${what}: after a plain open, ${read.changed}`)
      } else if (read.error !== undefined && !(read.error instanceof SeglogError)) failure(undefined, `${what}: reading after a plain open threw ${describe(read.error)}`)
    } finally {
      await p.close().catch(() => {})
    }
  } catch (err) {
    if (!(err instanceof SeglogError)) failure(undefined, `${what}: a plain open threw ${describe(err)}`)
  }

  // 4. repair: only the damaged batch's offsets may go.
  if (repair && !harmless) {
    writeFolder(work, crashed)
    report.count('repairs')
    try {
      const p = await Partition.open(work, { ...ref.options, repair: true, fullRecovery: true })
      try {
        const read = readAll(p, ref)
        if (read.changed !== undefined) {
          failure('undetectedChanges', `${what}: after repair, ${read.changed}`)
        }
        const kept = new Set(read.offsets)
        const lost = [...ref.values.keys()].filter((o) => !kept.has(o) && o >= p.logStartOffset)
        report.count('repairLostOffsets', lost.length)
        // A flip in the last batches may be cut as torn instead; otherwise only this batch goes.
        const outside = lost.filter((o) => o < batch.base || o > batch.last)
        const tornCut = p.recovery.truncatedBytes > 0
        if (outside.length > 0 && !tornCut) {
          failure('validDataDropped', `${what}: repair lost offsets ${outside.slice(0, 5).join(', ')}${outside.length > 5 ? '…' : ''} outside the damaged batch`)
        }
      } finally {
        await p.close().catch(() => {})
      }
    } catch (err) {
      failure(undefined, `${what}: open with repair threw ${describe(err)}`)
    }
  }
}

// Worker entry (last, so that every constant above is initialised).
const job = process.env.TORTURE_WORKER === undefined ? undefined : (JSON.parse(process.env.TORTURE_WORKER) as { scenario: string; level: Level; seed: number; index: number; of: number })
if (job?.scenario === 'bit-flips' && process.send !== undefined) {
  const report = new Report('bit-flips', job.seed)
  await share(job.level, job.seed, job.index, job.of, report)
  const part: Part = { figures: report.figures, failures: report.failures, failureCount: report.failureCount }
  process.send(part, () => process.disconnect())
}
