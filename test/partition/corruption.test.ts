/**
 * Damage that is not media corruption of data: a flipped bit in partitionLeaderEpoch (covered by
 * no check, and no data), damage within the torn-write window, and a repair whose damaged batch
 * ends a sealed segment.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CorruptRecordError, Partition } from '../../src/seglog.js'
import { Bench, bitsOf, expectAllBut, forEachBit, logWithSmallBatch, MAX_UNSYNCED_BYTES, OPTIONS, UNCOVERED, type Damaged } from './corruption-bench.js'
import { appendNumbered, batchesOf, caught, copyDir, flipBit, readAll, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

describe('Partition open with a flipped bit in partitionLeaderEpoch', () => {
  it('leaves every record intact: the field is covered by no check (Kafka’s format) and holds no data', async () => {
    const d = await logWithSmallBatch('active')
    const bench = new Bench(d)
    await forEachBit(bitsOf(...UNCOVERED.partitionLeaderEpoch), async (byte, bit, what) => {
      bench.damage(byte, bit, ['clean-shutdown'])
      const p = await Partition.open(bench.dir, OPTIONS)
      try {
        expect(p.recovery, what).toMatchObject({ truncatedBytes: 0, repaired: [] })
        const records = await readAll(p, 0)
        expect(records.map((r) => r.offset), what).toEqual(Array.from({ length: d.logEndOffset }, (_, i) => i))
        for (const r of records) expect(r.value?.toString(), what).toBe(`v-${r.offset}`)
      } finally {
        await p.close()
      }
    })
  })
})

describe('Partition open with damage inside the last maxUnsyncedBytes of the log', () => {
  it('treats it as a torn write even with valid batches after it: cuts from the damage and reports it', async () => {
    const d = await logWithSmallBatch('active', 500)
    const size = fs.statSync(d.file).size
    expect(size - d.batch.position).toBeLessThanOrEqual(MAX_UNSYNCED_BYTES)
    const bench = new Bench(d)
    const bits: Array<[number, number]> = [[0, 1], [7, 7], [8, 7], [11, 0], [16, 6], [17, 0], [21, 7], [30, 3], [d.batch.size - 1, 0]]
    await forEachBit(bits, async (byte, bit, what) => {
      bench.damage(byte, bit, ['clean-shutdown'])
      const p = await Partition.open(bench.dir, OPTIONS)
      try {
        expect(p.recovery, what).toMatchObject({ truncatedBytes: size - d.batch.position, truncatedFromOffset: d.batch.baseOffset, repaired: [] })
        expect(p.logEndOffset, what).toBe(d.batch.baseOffset)
        const records = await readAll(p, 0)
        expect(records.map((r) => r.offset), what).toEqual(Array.from({ length: d.batch.baseOffset }, (_, i) => i))
      } finally {
        await p.close()
      }
    })
  })
})

describe('Partition repair across segments', () => {
  it('keeps the following segments when the damaged batch is the last of a sealed segment, and reports its bytes', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, OPTIONS)
    while (p.segmentCount < 4) await appendNumbered(p, 1, 3)
    const logEndOffset = p.logEndOffset
    const [first] = p.segments()
    await p.close()
    const last = batchesOf(first!.file).at(-1)!
    const copy = copyDir(dir)
    const file = path.join(copy, path.basename(first!.file))
    flipBit(file, last.position + 40, 3)
    fs.rmSync(path.join(copy, 'clean-shutdown'))
    fs.rmSync(path.join(copy, 'recovery-point'))
    const err = await caught(() => Partition.open(copy, OPTIONS))
    expect(err).toBeInstanceOf(CorruptRecordError)
    expect(err).toMatchObject({ code: 'ERR_CORRUPT_RECORD', file, position: last.position })
    const repaired = await Partition.open(copy, { ...OPTIONS, repair: true })
    try {
      expect(repaired.recovery.repaired).toEqual([{ file, position: last.position, bytes: last.size, lostFromOffset: last.baseOffset, lostToOffset: last.lastOffset }])
      expect(repaired.segmentCount).toBe(4)
      const d: Damaged = { dir: copy, file, batch: last, logEndOffset }
      expectAllBut(await readAll(repaired, 0), d, 'repair across segments')
    } finally {
      await repaired.close()
    }
  })
})
