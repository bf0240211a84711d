/**
 * Retention deletes whole sealed segments, oldest first — by size, by age, or below a log start
 * offset moved by deleteRecordsBefore — never the active segment, and reads below the log start
 * offset fail with ERR_OFFSET_OUT_OF_RANGE.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { OffsetOutOfRangeError, Partition, type PartitionOptions } from '../../src/seglog.js'
import { appendNumbered, caught, expectNumbered, logFiles, numbered, readAll, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

const OPTIONS: PartitionOptions = { segmentBytes: 1024, indexIntervalBytes: 128, maxIndexBytes: 1024 }
const HOUR = 3600 * 1000

/** Wait for the retention a roll schedules (it runs after the running fsync, on a later tick). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

describe('Partition retention', () => {
  it('deletes the oldest sealed segments while the partition is larger than retentionBytes', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { ...OPTIONS, retentionBytes: 3000 })
    try {
      await appendNumbered(p, 100, 3)
      await settle()
      p.applyRetention()
      const segments = p.segments()
      // Deleting one more (the oldest) would go below the limit; the active segment always stays.
      expect(p.sizeBytes).toBeGreaterThanOrEqual(3000)
      expect(p.sizeBytes - segments[0]!.sizeBytes).toBeLessThan(3000)
      expect(logFiles(dir)).toEqual(segments.map((s) => s.file))
      expect(p.logStartOffset).toBe(segments[0]!.baseOffset)
      // Only whole segments go, with their indexes.
      const names = fs.readdirSync(dir)
      for (const s of segments) expect(names).toContain(path.basename(s.file).replace('.log', '.index'))
      expect(names.filter((n) => n.endsWith('.index'))).toHaveLength(segments.length)
      expectNumbered(await readAll(p), p.logStartOffset, 300)
      expect((await caught(() => p.read({ from: 0 }))).code).toBe('ERR_OFFSET_OUT_OF_RANGE')
    } finally {
      await p.close()
    }
    // The log start offset survives a reopen.
    const again = await Partition.open(dir, OPTIONS)
    expect(again.logStartOffset).toBeGreaterThan(0)
    expectNumbered(await readAll(again), again.logStartOffset, 300)
    await again.close()
  })

  it('never deletes the active segment, even with retentionBytes 0', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { ...OPTIONS, retentionBytes: 0 })
    try {
      await appendNumbered(p, 60, 3)
      await settle()
      p.applyRetention()
      expect(p.segmentCount).toBe(1)
      const active = p.segments()[0]!
      expect(p.logStartOffset).toBe(active.baseOffset)
      expectNumbered(await readAll(p), active.baseOffset, 180)
      await p.append(numbered(180, 1))
      expectNumbered(await readAll(p), active.baseOffset, 181)
    } finally {
      await p.close()
    }
  })

  it('deletes the oldest sealed segments whose newest record is older than retentionMs', async () => {
    const dir = tempDir()
    const old = Date.now() - 10 * HOUR
    const p = await Partition.open(dir, OPTIONS)
    // Old records fill a few segments, then recent records follow (one segment holds both).
    let i = 0
    while (p.segmentCount < 4) await p.append(numbered(p.logEndOffset, 3).map((r) => ({ ...r, timestamp: old + i++ })))
    await p.append(numbered(p.logEndOffset, 3).map((r) => ({ ...r, timestamp: old + i++ })))
    const segmentCount = p.segmentCount
    while (p.segmentCount < segmentCount + 2) await p.append(numbered(p.logEndOffset, 3).map((r) => ({ ...r, timestamp: Date.now() })))
    const end = p.logEndOffset
    const bases = p.segments().map((s) => s.baseOffset)
    await p.close()
    // The first segment holding a recent record: everything before it is older than an hour.
    const keptFrom = bases[segmentCount - 1]!
    const q = await Partition.open(dir, { ...OPTIONS, retentionMs: HOUR })
    try {
      // Retention runs at open.
      expect(q.logStartOffset).toBe(keptFrom)
      expect(q.segments().map((s) => s.baseOffset)).toEqual(bases.slice(segmentCount - 1))
      expectNumbered(await readAll(q), keptFrom, end)
      expect((await caught(() => q.read({ from: 0 }))).code).toBe('ERR_OFFSET_OUT_OF_RANGE')
    } finally {
      await q.close()
    }
  })

  it('deletes segments on its check interval as their records age past retentionMs', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { ...OPTIONS, retentionMs: HOUR, retentionCheckIntervalMs: 10 })
    const events: Array<{ segmentsDeleted: number; logStartOffset: number }> = []
    p.on('retention', (e: { segmentsDeleted: number; logStartOffset: number }) => events.push(e))
    try {
      // Records that turn older than retentionMs a moment after they are written.
      const ageingAt = Date.now() + 800
      while (p.segmentCount < 4) await p.append(numbered(p.logEndOffset, 3).map((r) => ({ ...r, timestamp: ageingAt - HOUR })))
      const activeBase = p.segments().at(-1)!.baseOffset
      expect(Date.now()).toBeLessThan(ageingAt) // (else the segments were young only while rolling)
      expect(p.logStartOffset).toBe(0)
      const deadline = Date.now() + 10_000
      while (p.segmentCount > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      // Every sealed segment aged out; the active one stays though its records are as old.
      expect(p.segments().map((s) => s.baseOffset)).toEqual([activeBase])
      expect(p.logStartOffset).toBe(activeBase)
      expect(events.at(-1)?.logStartOffset).toBe(activeBase)
      expect(events.reduce((n, e) => n + e.segmentsDeleted, 0)).toBe(3)
    } finally {
      await p.close()
    }
  })

  it('moves the log start offset with deleteRecordsBefore, persists it, and refuses reads below it', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, OPTIONS)
    await appendNumbered(p, 50, 3)
    const segmentsBefore = p.segmentCount
    const cut = 77
    await p.deleteRecordsBefore(cut)
    expect(p.logStartOffset).toBe(cut)
    // Segments wholly below it are gone; the one holding it stays.
    expect(p.segmentCount).toBeLessThan(segmentsBefore)
    expect(p.segments()[0]!.baseOffset).toBeLessThanOrEqual(cut)
    expect(p.segments()[1]!.baseOffset).toBeGreaterThan(cut)
    const err = await caught(() => p.read({ from: cut - 1 }))
    expect(err).toBeInstanceOf(OffsetOutOfRangeError)
    expect(err.code).toBe('ERR_OFFSET_OUT_OF_RANGE')
    // Reading from the start gives exactly the records from the log start offset.
    expectNumbered(await readAll(p), cut, 150)
    expect(p.read({ from: cut }).records[0]?.offset).toBe(cut)
    // Moving it back does nothing; past the durable offset is refused.
    await p.deleteRecordsBefore(10)
    expect(p.logStartOffset).toBe(cut)
    expect((await caught(() => p.deleteRecordsBefore(151))).code).toBe('ERR_OFFSET_OUT_OF_RANGE')
    await expect(p.deleteRecordsBefore(-1)).rejects.toThrow(RangeError)
    await p.close()

    for (const clean of [true, false]) {
      if (!clean) fs.rmSync(path.join(dir, 'clean-shutdown'))
      const again = await Partition.open(dir, OPTIONS)
      expect(again.logStartOffset).toBe(cut)
      expect((await caught(() => again.read({ from: cut - 1 }))).code).toBe('ERR_OFFSET_OUT_OF_RANGE')
      expectNumbered(await readAll(again), cut, 150)
      await again.close()
    }
    const reader = await Partition.openReadOnly(dir)
    expect(reader.logStartOffset).toBe(cut)
    expectNumbered(await readAll(reader), cut, 150)
    await reader.close()
  })

  it('never deletes the active segment when deleteRecordsBefore reaches the log end offset', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, OPTIONS)
    await appendNumbered(p, 50, 3)
    await p.deleteRecordsBefore(150)
    expect(p.logStartOffset).toBe(150)
    expect(p.segmentCount).toBe(1)
    expect(p.read({ from: 150 }).records).toEqual([])
    await p.append(numbered(150, 2))
    expectNumbered(await readAll(p), 150, 152)
    await p.close()
    const again = await Partition.open(dir, OPTIONS)
    expect(again.logStartOffset).toBe(150)
    expectNumbered(await readAll(again), 150, 152)
    await again.close()
  })

  it('keeps a segment holding a recent record written before a clean reopen, when later records in it are old', async () => {
    const dir = tempDir()
    const options: PartitionOptions = { ...OPTIONS, indexIntervalBytes: 0 }
    const p = await Partition.open(dir, options)
    await p.append([{ value: 'recent', timestamp: Date.now() }])
    await p.close()
    // Reopened cleanly, the active segment must still know its newest timestamp.
    const q = await Partition.open(dir, options)
    const old = Date.now() - 10 * HOUR
    while (q.segmentCount < 3) await q.append([{ value: 'x'.repeat(100), timestamp: old }])
    await q.close()
    const r = await Partition.open(dir, { ...options, retentionMs: HOUR })
    try {
      expect(r.read({ from: 0 }).records[0]?.value?.toString()).toBe('recent')
      expect(r.logStartOffset).toBe(0)
    } finally {
      await r.close()
    }
  })
})
