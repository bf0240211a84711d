/**
 * A failed fsync or write (EIO, ENOSPC) is sticky: that append and every later one reject with
 * ERR_STORAGE until the partition is reopened, and reopening re-verifies from disk. Nothing
 * acknowledged is lost; a record whose append failed may be there or not, but is never acknowledged.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { errnoError, setFaultInjector, type IoOp } from '../../src/file-io.js'
import { Partition, StorageError, type AppendResult, type PartitionOptions } from '../../src/seglog.js'
import { appendNumbered, caught, expectNumbered, numbered, readAll, removeTempDirs, tempDir } from './helpers.js'

afterEach(() => {
  setFaultInjector(undefined)
  removeTempDirs()
})

const OPTIONS: PartitionOptions = { segmentBytes: 2048, indexIntervalBytes: 128, maxIndexBytes: 1024 }

/** Fail every `op` on a `.log` file with `code` (until removed). */
function failLog(op: IoOp, code: string): void {
  setFaultInjector((o, file) => (o === op && file.endsWith('.log') ? errnoError(code, o, file) : undefined))
}

/** After the fault: reopen, check what was acknowledged is there and the failed records are absent or whole. */
async function expectReopenKeepsAcknowledged(dir: string, acknowledged: number, failed: { from: number; count: number }): Promise<void> {
  const p = await Partition.open(dir, OPTIONS)
  try {
    expect(p.recovery.clean).toBe(false) // a failed partition writes no clean-shutdown marker
    const records = await readAll(p)
    // Acknowledged records all there; the failed append's records whole or absent (never half).
    expect([acknowledged, failed.from + failed.count]).toContain(records.length)
    expect(failed.from).toBe(acknowledged)
    expectNumbered(records, 0, records.length)
    const next = records.length
    expect(await p.append(numbered(next, 3))).toEqual({ baseOffset: next, lastOffset: next + 2 })
    expectNumbered(await readAll(p), 0, next + 3)
  } finally {
    await p.close()
  }
  const again = await Partition.open(dir, OPTIONS)
  expect(again.recovery.clean).toBe(true)
  await again.close()
}

describe('Partition storage faults', () => {
  for (const code of ['EIO', 'ENOSPC']) {
    it(`rejects the append whose fdatasync fails with ${code}, and every later append, until reopened`, async () => {
      const dir = tempDir()
      const p = await Partition.open(dir, OPTIONS)
      await appendNumbered(p, 10, 3)
      const acknowledged = p.logEndOffset
      failLog('fdatasync', code)
      const err = await caught(() => p.append(numbered(acknowledged, 4)))
      expect(err).toBeInstanceOf(StorageError)
      expect(err.code).toBe('ERR_STORAGE')
      expect((err.cause as NodeJS.ErrnoException).code).toBe(code)
      // Sticky: even with the disk healthy again, no retry of the fsync is trusted.
      setFaultInjector(undefined)
      for (let i = 0; i < 3; i++) {
        const later = await caught(() => p.append(numbered(acknowledged + 4, 1)))
        expect(later.code).toBe('ERR_STORAGE')
      }
      expect((await caught(() => p.flush())).code).toBe('ERR_STORAGE')
      expect((await caught(() => p.deleteRecordsBefore(1))).code).toBe('ERR_STORAGE')
      // What was durable before the fault is still readable, and no more.
      expect(p.durableOffset).toBe(acknowledged)
      expectNumbered(await readAll(p), 0, acknowledged)
      await p.close()
      await expectReopenKeepsAcknowledged(dir, acknowledged, { from: acknowledged, count: 4 })
    })

    it(`rejects the append whose write fails with ${code}, and every later append, until reopened`, async () => {
      const dir = tempDir()
      const p = await Partition.open(dir, OPTIONS)
      await appendNumbered(p, 10, 3)
      const acknowledged = p.logEndOffset
      failLog('write', code)
      const err = await caught(() => p.append(numbered(acknowledged, 4)))
      expect(err).toBeInstanceOf(StorageError)
      expect(err.code).toBe('ERR_STORAGE')
      expect((err.cause as NodeJS.ErrnoException).code).toBe(code)
      expect(err.file).toMatch(/\.log$/)
      setFaultInjector(undefined)
      expect((await caught(() => p.append(numbered(acknowledged, 1)))).code).toBe('ERR_STORAGE')
      expect(p.logEndOffset).toBe(acknowledged) // the failed batch took no offsets
      await p.close()
      await expectReopenKeepsAcknowledged(dir, acknowledged, { from: acknowledged, count: 4 })
    })
  }

  it('rejects every append waiting on the failed group commit, and none of them is acknowledged', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, OPTIONS)
    await appendNumbered(p, 5, 3)
    const acknowledged = p.logEndOffset
    let syncs = 0
    // The first fsync succeeds, the second (covering the appends queued behind it) fails.
    setFaultInjector((op, file) => (op === 'fdatasync' && file.endsWith('.log') && ++syncs === 2 ? errnoError('EIO', op, file) : undefined))
    const outcomes = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => p.append(numbered(acknowledged + i * 2, 2))))
    const resolved = outcomes.filter((o): o is PromiseFulfilledResult<AppendResult> => o.status === 'fulfilled')
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')
    // The first append had its own fsync; the 15 queued behind it shared the failed one.
    expect(resolved.map((o) => o.value)).toEqual([{ baseOffset: acknowledged, lastOffset: acknowledged + 1 }])
    expect(rejected).toHaveLength(15)
    for (const o of rejected) expect((o.reason as StorageError).code).toBe('ERR_STORAGE')
    setFaultInjector(undefined)
    await p.close()
    const reopened = await Partition.open(dir, OPTIONS)
    const records = await readAll(reopened)
    // Acknowledged: everything up to the first concurrent append; the rest is there or not.
    expect(records.length).toBeGreaterThanOrEqual(acknowledged + 2)
    expectNumbered(records, 0, records.length)
    await reopened.close()
  })

  it('fails an append that rolls into a segment the disk refuses to create, and recovers on reopen', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, OPTIONS)
    await appendNumbered(p, 3, 3)
    const acknowledged = p.logEndOffset
    setFaultInjector((op, file) => (op === 'open' && file.endsWith('.log') ? errnoError('ENOSPC', op, file) : undefined))
    let err: StorageError | undefined
    let offset = acknowledged
    // Append until the roll needs a new segment file.
    for (let i = 0; i < 100 && err === undefined; i++) {
      try {
        await p.append(numbered(offset, 3))
        offset += 3
      } catch (e) {
        err = e as StorageError
      }
    }
    expect(err?.code).toBe('ERR_STORAGE')
    setFaultInjector(undefined)
    expect((await caught(() => p.append(numbered(offset, 1)))).code).toBe('ERR_STORAGE')
    await p.close()
    await expectReopenKeepsAcknowledged(dir, offset, { from: offset, count: 3 })
  })

  it('makes a failed background fsync (fsync: { intervalMs }) sticky too', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { ...OPTIONS, fsync: { intervalMs: 5 } })
    await appendNumbered(p, 4, 3)
    failLog('fdatasync', 'EIO')
    // Acknowledged once written to the OS; the timer's fsync then fails.
    await p.append(numbered(12, 3))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect((await caught(() => p.append(numbered(15, 1)))).code).toBe('ERR_STORAGE')
    setFaultInjector(undefined)
    expect((await caught(() => p.append(numbered(15, 1)))).code).toBe('ERR_STORAGE')
    await p.close()
    // A process crash loses nothing the OS has: all 15 are there.
    const again = await Partition.open(dir, OPTIONS)
    expectNumbered(await readAll(again), 0, 15)
    await again.close()
  })

  it('rejects close with ERR_STORAGE when its final fsync fails, releasing the lock so that a reopen recovers', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { ...OPTIONS, fsync: 'never' })
    await appendNumbered(p, 4, 3)
    failLog('fdatasync', 'EIO')
    const err = await caught(() => p.close())
    setFaultInjector(undefined)
    const again = await Partition.open(dir, OPTIONS)
    expect(again.recovery.clean).toBe(false)
    expectNumbered(await readAll(again), 0, 12)
    await again.close()
    // Typed, as every operating error is (it was the raw EIO).
    expect(err).toBeInstanceOf(StorageError)
    expect(err.code).toBe('ERR_STORAGE')
  })
})
