/**
 * Scenario 6, fuzzed input (fast-check) to the batch decoder, `seglog dump` and `seglog verify`:
 *
 * - the decoder (`checkBatch`, then `decodeRecords` when the batch passes) gets random bytes and
 *   mutated valid batches — bytes changed, lengths and counts rewritten, gzip blocks swapped in,
 *   truncated — mostly with the CRC fixed up after the change, so that the record decoder, not the
 *   CRC check, meets the damage;
 * - dump and verify get partition folders of mutated segments and random index files.
 *
 * For every input: nothing thrown but a typed `SeglogError` (the commands: no internal error), no
 * input takes over a second, and no single allocation is larger than `maxBatchBytes` plus the
 * scanner's 1 MiB read chunk; the peak resident memory is reported.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import fc from 'fast-check'
import { checkBatch, crc32c, decodeRecords, encodeBatch, type RecordInput } from '../../src/segment/index.js'
import { SeglogError } from '../../src/errors.js'
import { describe, dumpHere, removeScratch, Report, scratch, verifyHere, type Level, type Outcome } from './support.js'

const MAX_BATCH_BYTES = 256 * 1024
/** The scanner reads in chunks of this size (batch-scanner.ts). */
const SCAN_CHUNK_BYTES = 1024 * 1024
const DECODER_INPUTS: Record<Level, number> = { test: 20_000, quick: 150_000, full: 1_000_000 }
const TOOL_INPUTS: Record<Level, number> = { test: 150, quick: 2_000, full: 12_000 }
const HANG_MS = 1000
/** A gzip block of 9 KiB that inflates to 4 × maxBatchBytes: the decoder must stop at maxBatchBytes. */
const BOMB = zlib.gzipSync(Buffer.alloc(MAX_BATCH_BYTES * 4))

export async function fuzz(level: Level, seed: number): Promise<Outcome> {
  const report = new Report('fuzz', seed)
  const gc = (globalThis as { gc?: () => void }).gc
  // Measured from a tenth of the way in, once code and caches have warmed up: growth after that is a leak.
  let retainedBefore = 0
  const allocations = watchAllocations()
  let rssPeak = process.memoryUsage().rss
  let slowest = 0
  const timed = async (what: () => string, fn: () => unknown): Promise<void> => {
    const t0 = process.hrtime.bigint()
    try {
      await fn()
    } catch (err) {
      if (!(err instanceof SeglogError)) report.fail(`${what()}: threw ${describe(err)}`)
      else report.count('typedErrors')
    }
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e6
    slowest = Math.max(slowest, elapsed)
    if (elapsed > HANG_MS) report.fail(`${what()}: took ${Math.round(elapsed)} ms`)
  }
  try {
    // 1. The decoder, in memory. In chunks, with the event loop turning between them: Node's
    // synchronous zlib keeps each call's buffers until it does (see the README's findings), which
    // a million inputs in one tick would turn into gigabytes.
    let n = 0
    const chunk = 2_000
    for (let done = 0; done < DECODER_INPUTS[level]; done += chunk) {
      fc.assert(
        fc.property(decoderInput(), (input) => {
          n++
          if (n === Math.ceil(DECODER_INPUTS[level] / 10)) {
            gc?.()
            retainedBefore = retained()
          }
          const t0 = process.hrtime.bigint()
          try {
            const check = checkBatch(input, 0, input.length, MAX_BATCH_BYTES)
            if (check.ok) {
              report.count('decoderBatchesValid')
              decodeRecords(input, 0, check.header, { maxBatchBytes: MAX_BATCH_BYTES })
              report.count('decoderRecordsDecoded')
            }
          } catch (err) {
            if (!(err instanceof SeglogError)) report.fail(`decoder input ${input.toString('hex').slice(0, 400)}: threw ${describe(err)} (seed ${seed + done})`)
            else report.count('decoderTypedErrors')
          }
          const elapsed = Number(process.hrtime.bigint() - t0) / 1e6
          slowest = Math.max(slowest, elapsed)
          if (elapsed > HANG_MS) report.fail(`decoder input of ${input.length} bytes took ${Math.round(elapsed)} ms (seed ${seed + done})`)
          return true
        }),
        { numRuns: Math.min(chunk, DECODER_INPUTS[level] - done), seed: seed + done, endOnFailure: true },
      )
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
      await turn()
    }
    report.count('decoderInputs', n)

    // 2. seglog dump and seglog verify, on files.
    const base = scratch('memory')
    const samples = fc.sample(toolInput(), { numRuns: TOOL_INPUTS[level], seed: seed + 1 })
    let i = 0
    for (const sample of samples) {
      const dir = path.join(base, `p${i++ % 8}`)
      fs.rmSync(dir, { recursive: true, force: true })
      fs.mkdirSync(dir)
      const files: string[] = []
      for (const [name, bytes] of sample) {
        fs.writeFileSync(path.join(dir, name), bytes)
        files.push(path.join(dir, name))
      }
      const what = (tool: string) => (): string => `${tool} of ${sample.map(([name, b]) => `${name} (${b.length} bytes: ${b.toString('hex').slice(0, 120)}…)`).join(', ')}`
      await timed(what('seglog dump --records'), async () => {
        const run = await dumpHere(files, { records: true, maxBatchBytes: MAX_BATCH_BYTES })
        if (run.stderr.includes('internal error')) report.fail(`${what('seglog dump')()}: ${run.stderr.slice(0, 400)}`)
      })
      report.count('dumpInputs')
      await timed(what('seglog verify'), async () => {
        const run = await verifyHere([dir], { maxBatchBytes: MAX_BATCH_BYTES })
        if (run.stderr.includes('internal error') || run.problems.some((p) => p.kind === 'no-output')) report.fail(`${what('seglog verify')()}: ${run.stderr.slice(0, 400)}`)
      })
      report.count('verifyInputs')
      if (i % 500 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
    }
  } catch (err) {
    report.fail(`the scenario threw ${describe(err)} (seed ${seed})`)
  } finally {
    allocations.stop()
    removeScratch()
  }
  await turn()
  gc?.()
  // What is still held after a collection, since a tenth of the way in (under --expose-gc only).
  report.figures.retainedGrowthMiB = gc === undefined ? 'n/a' : Math.round(((retained() - retainedBefore) / 2 ** 20) * 10) / 10
  const bound = MAX_BATCH_BYTES + SCAN_CHUNK_BYTES + 64 * 1024
  report.check(allocations.largest <= bound, () => `an allocation of ${allocations.largest} bytes, more than maxBatchBytes ${MAX_BATCH_BYTES} + the 1 MiB scan chunk (+64 KiB)`)
  report.figures.largestAllocationBytes = allocations.largest
  report.figures.peakRssMiB = Math.round(rssPeak / 2 ** 20)
  report.figures.slowestMs = Math.round(slowest * 10) / 10
  const inputs = report.get('decoderInputs') + report.get('dumpInputs') + report.get('verifyInputs')
  report.figures.inputs = inputs
  return report.done(
    `${inputs} inputs (${report.get('decoderInputs')} to the decoder, ${report.get('dumpInputs')} to dump, ${report.get('verifyInputs')} to verify), ` +
      `${report.get('decoderRecordsDecoded')} decoded as valid, 0 crashes${report.failureCount > 0 ? '?' : ''}, slowest ${report.figures.slowestMs} ms, ` +
      `largest allocation ${Math.round(allocations.largest / 1024)} KiB (maxBatchBytes ${MAX_BATCH_BYTES / 1024} KiB), ` +
      `JS heap retained after GC ${signed(report.figures.retainedGrowthMiB)} MiB, peak RSS ${report.figures.peakRssMiB} MiB`,
  )
}

function signed(v: unknown): string {
  return typeof v === 'number' && v >= 0 ? `+${v}` : String(v)
}

/** Let the event loop turn twice (zlib releases its buffers then). */
async function turn(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setTimeout(resolve, 1))
}

/** The JS heap in use (after a collection: what is retained). Node's zlib frees its external buffers lazily, so they are left out. */
function retained(): number {
  return process.memoryUsage().heapUsed
}

/** Record the largest Buffer allocation made while fuzzing (the decoder and tools allocate through these). */
function watchAllocations(): { largest: number; stop: () => void } {
  const saved = { alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe, allocUnsafeSlow: Buffer.allocUnsafeSlow }
  const state = {
    largest: 0,
    stop: (): void => {
      Buffer.alloc = saved.alloc
      Buffer.allocUnsafe = saved.allocUnsafe
      Buffer.allocUnsafeSlow = saved.allocUnsafeSlow
    },
  }
  Buffer.alloc = ((size: number, ...rest: unknown[]) => {
    state.largest = Math.max(state.largest, size)
    return (saved.alloc as (...args: unknown[]) => Buffer)(size, ...rest)
  }) as typeof Buffer.alloc
  Buffer.allocUnsafe = ((size: number) => {
    state.largest = Math.max(state.largest, size)
    return saved.allocUnsafe(size)
  }) as typeof Buffer.allocUnsafe
  Buffer.allocUnsafeSlow = ((size: number) => {
    state.largest = Math.max(state.largest, size)
    return saved.allocUnsafeSlow(size)
  }) as typeof Buffer.allocUnsafeSlow
  return state
}

const bytes = (max: number): fc.Arbitrary<Uint8Array | null> => fc.option(fc.uint8Array({ maxLength: max }), { freq: 8 })

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: bytes(24),
  value: bytes(120),
  headers: fc.array(fc.tuple(fc.string({ maxLength: 8 }), bytes(16)), { maxLength: 3 }),
  timestamp: fc.integer({ min: -1, max: 2 ** 45 }),
})

/** A valid batch of random records, plain or gzip. */
const batchArb: fc.Arbitrary<Buffer> = fc
  .tuple(fc.array(recordArb, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 40 }))
  .map(([records, gzip, baseOffset]) => encodeBatch(records, { compression: gzip ? 'gzip' : 'none', baseOffset, now: 1_700_000_000_000, maxBatchBytes: MAX_BATCH_BYTES }))

/** Write a valid CRC over a (mutated) batch, so that the decoder sees the damage. */
function fixCrc(batch: Buffer): Buffer {
  if (batch.length >= 61) batch.writeUInt32BE(crc32c(batch.subarray(21)), 17)
  return batch
}

type Mutation =
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'int32'; field: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; extra: Uint8Array }
  | { kind: 'gzip-body'; body: Uint8Array; bomb: boolean }

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }) },
  {
    weight: 3,
    // batchLength, lastOffsetDelta, recordsCount, or a record's first varint
    arbitrary: fc.record({ kind: fc.constant('int32' as const), field: fc.constantFrom(8, 23, 57, 61), value: fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 1, 48, 49, 0x7fffffff, MAX_BATCH_BYTES)) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('gzip-body' as const), body: fc.uint8Array({ maxLength: 64 }), bomb: fc.boolean() }) },
)

function mutate(batch: Buffer, mutations: readonly Mutation[], crc: boolean): Buffer {
  let out = Buffer.from(batch)
  for (const m of mutations) {
    if (m.kind === 'byte' && out.length > 0) out[m.at % out.length] = m.value
    else if (m.kind === 'int32' && out.length >= m.field + 4) out.writeInt32BE(m.value, m.field)
    else if (m.kind === 'truncate') out = out.subarray(0, m.at % (out.length + 1))
    else if (m.kind === 'extend') out = Buffer.concat([out, m.extra])
    else if (m.kind === 'gzip-body' && out.length >= 61) {
      // A gzip block of random bytes, or a bomb: a small block that inflates far past maxBatchBytes.
      const body = m.bomb ? BOMB : zlib.gzipSync(m.body)
      out = Buffer.concat([out.subarray(0, 61), body])
      out.writeInt16BE((out.readInt16BE(21) & ~7) | 1, 21)
      out.writeInt32BE(out.length - 12, 8)
    }
  }
  return crc ? fixCrc(out) : out
}

export function decoderInput(): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: batchArb },
    {
      weight: 6,
      arbitrary: fc.tuple(batchArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.boolean()).map(([batch, mutations, crc]) => mutate(batch, mutations, crc || mutations.length > 0)),
    },
  )
}

/** A partition folder's files: a segment of a few (mutated) batches, sometimes with (random) index files. */
function toolInput(): fc.Arbitrary<Array<[string, Buffer]>> {
  const segment = fc
    .tuple(fc.array(fc.tuple(batchArb, fc.array(mutationArb, { maxLength: 2 }), fc.boolean()), { minLength: 1, maxLength: 5 }), fc.uint8Array({ maxLength: 64 }))
    .map(([batches, tail]) => {
      let offset = 0
      const parts = batches.map(([batch, mutations, crc]) => {
        const b = Buffer.from(batch)
        // Consecutive offsets, so that the mutation is the only thing wrong.
        b.writeBigInt64BE(BigInt(offset), 0)
        offset += b.readInt32BE(23) + 1
        return mutations.length === 0 ? b : mutate(b, mutations, crc)
      })
      return Buffer.concat([...parts, Buffer.from(tail.subarray(0, tail.length % 3 === 0 ? tail.length : 0))])
    })
  const index = fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.from(b))
  return fc.tuple(segment, fc.option(index, { freq: 2 }), fc.option(index, { freq: 2 })).map(([log, offsetIndex, timeIndex]) => {
    const files: Array<[string, Buffer]> = [['00000000000000000000.log', log]]
    if (offsetIndex !== null) files.push(['00000000000000000000.index', offsetIndex])
    if (timeIndex !== null) files.push(['00000000000000000000.timeindex', timeIndex])
    return files
  })
}
