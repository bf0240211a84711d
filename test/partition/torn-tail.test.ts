/**
 * A crash in the middle of the last write leaves a torn batch at the end of the log: recovery cuts
 * it, reports exactly what it cut, and keeps every whole batch before it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Partition, type PartitionOptions } from '../../src/seglog.js'
import { appendNumbered, batchesOf, copyDir, DirSnapshot, expectNumbered, numbered, readAll, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

const OPTIONS: PartitionOptions = { segmentBytes: 4096, indexIntervalBytes: 64, maxIndexBytes: 1024 }

/** Write `batches` batches of 3 records then a last one of `lastCount`; return where the last one is. */
async function logWithLastBatch(batches: number, lastCount: number, options = OPTIONS) {
  const dir = tempDir()
  const p = await Partition.open(dir, options)
  await appendNumbered(p, batches, 3)
  const baseOffset = p.logEndOffset
  await p.append(numbered(baseOffset, lastCount))
  const file = p.segments().at(-1)!.file
  const segmentCount = p.segmentCount
  await p.close()
  const last = batchesOf(file).at(-1)!
  expect(last.baseOffset).toBe(baseOffset)
  return { dir, file: path.basename(file), start: last.position, lastSize: last.size, baseOffset, end: baseOffset + lastCount, segmentCount }
}

/** A copy of `dir` as a crash at `cut` bytes into the last batch leaves it. */
function tornCopy(dir: string, file: string, start: number, cut: number): string {
  const copy = copyDir(dir)
  fs.truncateSync(path.join(copy, file), start + cut)
  fs.rmSync(path.join(copy, 'clean-shutdown'))
  return copy
}

describe('Partition recovery from a torn tail', () => {
  it('recovers to the last whole batch when the tail is torn at every byte of the last batch', async () => {
    const log = await logWithLastBatch(50, 4)
    expect(log.segmentCount).toBeGreaterThan(1) // the torn batch is in a later segment, after rolls
    expect(log.start).toBeGreaterThan(0)
    const snapshot = new DirSnapshot(log.dir)
    const work = tempDir()
    for (let cut = 1; cut < log.lastSize; cut++) {
      snapshot.restore(work, ['clean-shutdown'])
      fs.truncateSync(path.join(work, log.file), log.start + cut)
      const p = await Partition.open(work, OPTIONS)
      try {
        expect(p.logEndOffset, `cut ${cut}`).toBe(log.baseOffset)
        expect(p.recovery, `cut ${cut}`).toMatchObject({ clean: false, truncatedBytes: cut, truncatedFromOffset: log.baseOffset, segmentsRemoved: 0, repaired: [] })
        expect(fs.statSync(path.join(work, log.file)).size).toBe(log.start)
        expectNumbered(await readAll(p), 0, log.baseOffset)
        // The log goes on from the cut: the next append takes the torn batch's offsets.
        expect(await p.append(numbered(log.baseOffset, 2, 'again'))).toEqual({ baseOffset: log.baseOffset, lastOffset: log.baseOffset + 1 })
        const tail = await readAll(p, log.baseOffset)
        expectNumbered(tail, log.baseOffset, log.baseOffset + 2, 'again')
      } finally {
        await p.close()
      }
      if (cut % 10 !== 1) continue
      // And the repaired log reopens cleanly with everything in it.
      const again = await Partition.open(work, OPTIONS)
      expect(again.recovery.clean).toBe(true)
      expect(again.logEndOffset).toBe(log.baseOffset + 2)
      await again.close()
    }
  })

  it('recovers an empty active segment when the torn batch was the first of its segment', async () => {
    // Each batch fills most of a segment, so the last one is alone in the active segment.
    const options: PartitionOptions = { segmentBytes: 256, indexIntervalBytes: 64, maxIndexBytes: 1024 }
    const log = await logWithLastBatch(3, 12, options)
    expect(log.start).toBe(0)
    for (const cut of [1, 11, 12, 61, log.lastSize - 1]) {
      const copy = tornCopy(log.dir, log.file, log.start, cut)
      const p = await Partition.open(copy, options)
      expect(p.logEndOffset).toBe(log.baseOffset)
      expect(p.recovery).toMatchObject({ truncatedBytes: cut, truncatedFromOffset: log.baseOffset })
      expectNumbered(await readAll(p), 0, log.baseOffset)
      await p.append(numbered(log.baseOffset, 1))
      expectNumbered(await readAll(p), 0, log.baseOffset + 1)
      await p.close()
    }
  })

  it('keeps a whole last batch and reports nothing cut when only the clean-shutdown marker is missing', async () => {
    const log = await logWithLastBatch(10, 3)
    const copy = copyDir(log.dir)
    fs.rmSync(path.join(copy, 'clean-shutdown'))
    const p = await Partition.open(copy, OPTIONS)
    expect(p.recovery).toMatchObject({ clean: false, truncatedBytes: 0, truncatedFromOffset: undefined, segmentsRemoved: 0 })
    expectNumbered(await readAll(p), 0, log.end)
    await p.close()
  })

  it('cuts zeros a crash left after the last batch (file size grew before the data landed)', async () => {
    const log = await logWithLastBatch(10, 3)
    const copy = copyDir(log.dir)
    fs.rmSync(path.join(copy, 'clean-shutdown'))
    fs.appendFileSync(path.join(copy, log.file), Buffer.alloc(100))
    const p = await Partition.open(copy, OPTIONS)
    expect(p.recovery).toMatchObject({ truncatedBytes: 100, truncatedFromOffset: log.end })
    expectNumbered(await readAll(p), 0, log.end)
    await p.close()
  })

  it('emits the recovery report as a "recovery" event after open', async () => {
    const log = await logWithLastBatch(5, 3)
    const copy = tornCopy(log.dir, log.file, log.start, 7)
    const p = await Partition.open(copy, OPTIONS)
    const report = await new Promise((resolve) => p.once('recovery', resolve))
    expect(report).toBe(p.recovery)
    expect(report).toMatchObject({ truncatedBytes: 7, truncatedFromOffset: log.baseOffset })
    await p.close()
  })
})
