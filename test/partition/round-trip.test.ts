/**
 * Property: whatever is appended — in random batches, concurrently, across segment rolls, under
 * any fsync policy, with clean reopens and simulated crashes in between — reads back exactly,
 * through records() and through read() with any maxBytes.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { Partition, type FsyncPolicy, type PartitionOptions, type RecordInput } from '../../src/seglog.js'
import { copyDir, expectedRecord, plain, readAll, readAllByRead, removeTempDirs, tempDir, type PlainRecord } from './helpers.js'

afterEach(removeTempDirs)

const seed = Number(process.env.SEED ?? Date.now())
console.log(`round-trip property test seed: ${seed} (rerun with SEED=${seed})`)

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.string({ unit: 'binary', maxLength: 10 }))
const bytes = fc.oneof(
  text,
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ maxLength: 40 }), // a plain Uint8Array is accepted too
)
const bytesOrNull = fc.option(bytes, { nil: null, freq: 4 })
const headers = fc.oneof(
  fc.dictionary(text, bytesOrNull, { maxKeys: 4 }),
  // Ordered pairs, duplicates kept: draw a few keys, then pairs that reuse them.
  fc
    .array(text, { minLength: 1, maxLength: 3 })
    .chain((keys) => fc.array(fc.tuple(fc.constantFrom(...keys), bytesOrNull), { maxLength: 6 })),
)
const record: fc.Arbitrary<RecordInput> = fc
  .record(
    {
      key: fc.option(bytesOrNull, { nil: undefined }),
      value: bytesOrNull,
      headers: headers,
      timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constant(1_700_000_000_000), fc.integer({ min: 1_700_000_000_000, max: 1_700_000_100_000 })),
    },
    { requiredKeys: ['value'] },
  )
  .map((r) => r as RecordInput)

type Step =
  | { kind: 'append'; batches: RecordInput[][]; concurrent: boolean }
  | { kind: 'reopen' }
  | { kind: 'crash' }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), batches: fc.array(fc.array(record, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 }), concurrent: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
)

const fsyncPolicy: fc.Arbitrary<FsyncPolicy> = fc.constantFrom<FsyncPolicy>('always', 'never', { intervalMs: 5 })
const options: fc.Arbitrary<PartitionOptions> = fc.record({
  fsync: fsyncPolicy,
  segmentBytes: fc.integer({ min: 256, max: 4096 }),
  indexIntervalBytes: fc.integer({ min: 0, max: 256 }),
  maxIndexBytes: fc.constantFrom(64, 256, 1024),
  compression: fc.constantFrom<'none' | 'gzip'>('none', 'none', 'gzip'),
})

describe('Partition round trip', () => {
  it('reads back every record exactly as appended across rolls, reopens and crashes, under every fsync policy', async () => {
    const property = fc.asyncProperty(options, fc.array(step, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 4096 }), async (o, steps, readBytes) => {
      let dir = tempDir()
      let p = await Partition.open(dir, o)
      const expected: PlainRecord[] = []
      // A record without a timestamp gets the append time: check it against the window of the call.
      const windows: Array<[number, number] | undefined> = []
      try {
        for (const s of steps) {
          if (s.kind === 'reopen') {
            await p.close()
            p = await Partition.open(dir, o)
            expect(p.recovery.clean).toBe(true)
          } else if (s.kind === 'crash') {
            // Every append has resolved, so everything is written to the OS: a process crash now
            // loses nothing. A copy of the open folder is what such a crash leaves on disk.
            const copy = copyDir(dir)
            await p.close()
            dir = copy
            p = await Partition.open(dir, o)
            expect(p.recovery.clean).toBe(false)
            expect(p.recovery.truncatedBytes).toBe(0)
            expect(p.recovery.repaired).toEqual([])
          } else {
            const before = Date.now()
            const bases = expected.length
            let offset = bases
            const plans = s.batches.map((batch) => {
              const start = offset
              offset += batch.length
              return start
            })
            const results = s.concurrent
              ? await Promise.all(s.batches.map((batch) => p.append(batch)))
              : await s.batches.reduce<Promise<Array<{ baseOffset: number; lastOffset: number }>>>(
                  async (acc, batch) => [...(await acc), await p.append(batch)],
                  Promise.resolve([]),
                )
            const after = Date.now()
            // Offsets are assigned in call order, gap-free.
            expect(results.map((r) => r.baseOffset)).toEqual(plans)
            results.forEach((r, i) => expect(r.lastOffset).toBe((plans[i] as number) + (s.batches[i] as RecordInput[]).length - 1))
            s.batches.forEach((batch, b) =>
              batch.forEach((input, i) => {
                expected.push(expectedRecord(input, (plans[b] as number) + i, input.timestamp ?? -1))
                windows.push(input.timestamp === undefined ? [before, after] : undefined)
              }),
            )
          }
          expect(p.logEndOffset).toBe(expected.length)
          expect(p.durableOffset).toBe(expected.length)
        }
        const check = (got: PlainRecord[]): void => {
          const fixed = got.map((r, i) => {
            const w = windows[i]
            if (w === undefined) return r
            expect(r.timestamp).toBeGreaterThanOrEqual(w[0])
            expect(r.timestamp).toBeLessThanOrEqual(w[1])
            return { ...r, timestamp: -1 }
          })
          expect(fixed).toEqual(expected)
        }
        const all = await readAll(p)
        check(all.map(plain))
        check(readAllByRead(p, readBytes).map(plain))
        // offsetForTimestamp: the first offset whose timestamp is at least the target (brute force).
        const targets = all.filter((_, i) => i % 5 === 0).flatMap((r) => [r.timestamp - 1, r.timestamp, r.timestamp + 1])
        for (const t of [...targets, -1, 2 ** 46]) {
          expect(p.offsetForTimestamp(t), `offsetForTimestamp(${t})`).toBe(all.find((r) => r.timestamp >= t)?.offset ?? p.durableOffset)
        }
        // A read may start at any offset and begins exactly there.
        for (let o2 = 0; o2 < expected.length; o2 += 1 + Math.floor(expected.length / 7)) {
          expect(p.read({ from: o2, maxBytes: 1 }).records[0]?.offset).toBe(o2)
        }
        await p.close()
        // And once more after a last clean reopen.
        p = await Partition.open(dir, o)
        check((await readAll(p)).map(plain))
      } finally {
        await p.close()
      }
    })
    // RUNS=n for a longer search (the default keeps the suite fast).
    await fc.assert(property, { seed, numRuns: Number(process.env.RUNS ?? 40), verbose: true })
  })
})
