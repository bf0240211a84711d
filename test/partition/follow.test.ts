/**
 * Tailing: a reader follows a writer — in another process through a read-only partition, or in
 * the same process — and sees every record in order, once, up to the durable offset.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Partition, type LogRecord } from '../../src/seglog.js'
import { Child, expectNumbered, numbered, readAll, removeTempDirs, requireFreshDist, tempDir } from './helpers.js'

const children: Child[] = []
beforeAll(requireFreshDist)
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()))
  removeTempDirs()
})

/**
 * Collect `count` records from a following iterator, without ending it (a `break` out of
 * `for await` would), failing after `timeoutMs`.
 */
async function take(iterator: AsyncGenerator<LogRecord>, count: number, timeoutMs = 30_000): Promise<LogRecord[]> {
  const out: LogRecord[] = []
  const deadline = Date.now() + timeoutMs
  while (out.length < count) {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out with ${out.length} of ${count} records`)), Math.max(deadline - Date.now(), 0))
    })
    try {
      const step = await Promise.race([iterator.next(), timeout])
      if (step.done === true) throw new Error(`the iteration ended after ${out.length} of ${count} records`)
      // A skipped record would otherwise show only as a wait for records that never come.
      const previous = out.at(-1)
      if (previous !== undefined && step.value.offset !== previous.offset + 1) {
        throw new Error(`records are not contiguous: offset ${step.value.offset} came after ${previous.offset}`)
      }
      // Copy: keys and values are views into a read buffer.
      out.push({ ...step.value, value: step.value.value === null ? null : Buffer.from(step.value.value) })
    } finally {
      clearTimeout(timer)
    }
  }
  return out
}

describe('Partition follow', () => {
  it('a read-only reader in this process tails a writer process: every record in order, no gaps, across segment rolls', async () => {
    const dir = tempDir()
    const COUNT = 2000
    const writer = new Child('writer.mjs', [dir, 'append', String(COUNT), '7', '4096'])
    children.push(writer)
    await writer.waitForLine((l) => l === 'open')
    const reader = await Partition.openReadOnly(dir, { pollIntervalMs: 10 })
    try {
      const iterator = reader.records({ from: 0, follow: true })
      const records = await take(iterator, COUNT)
      await iterator.return()
      expectNumbered(records, 0, COUNT)
      expect(await writer.waitForLine((l) => l.startsWith('done'))).toBe(`done ${COUNT}`)
      expect((await writer.exited).code).toBe(0)
      expect(reader.segmentCount).toBeGreaterThan(5) // the writer rolled while the reader followed
      // Nothing past the end: a read at the end gives nothing and no error.
      expect(reader.read({ from: COUNT }).records).toEqual([])
    } finally {
      await reader.close()
    }
  })

  it('a following iterator in the writer’s process wakes on appends, and ends when aborted', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { segmentBytes: 1024, indexIntervalBytes: 64 })
    try {
      await p.append(numbered(0, 3))
      const controller = new AbortController()
      const iterator = p.records({ from: 0, follow: true, signal: controller.signal })
      const first = await take(iterator, 3)
      expectNumbered(first, 0, 3)
      // The iterator now waits at the end; appends (sequential and concurrent) wake it.
      const next = iterator.next()
      let woke = false
      void next.then(() => (woke = true))
      await new Promise((resolve) => setTimeout(resolve, 30))
      expect(woke).toBe(false)
      await p.append(numbered(3, 2))
      expect((await next).value?.offset).toBe(3)
      const rest = take(iterator, 96)
      await Promise.all(Array.from({ length: 19 }, (_, i) => p.append(numbered(5 + i * 5, 5))))
      const got = await rest
      expect(got[0]?.offset).toBe(4)
      expectNumbered(got, 4, 100)
      // Abort ends a waiting iteration with the abort reason.
      const waiting = iterator.next()
      controller.abort(new Error('stop'))
      await expect(waiting).rejects.toThrow('stop')
    } finally {
      await p.close()
    }
  })

  it('a following iterator ends when its partition closes', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    await p.append(numbered(0, 2))
    const iterator = p.records({ from: 2, follow: true })
    const waiting = iterator.next()
    await p.close()
    expect(await waiting).toEqual({ value: undefined, done: true })
  })

  it('a reader never sees records past the durable offset while an fsync is pending', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    try {
      await p.append(numbered(0, 5))
      const pending = p.append(numbered(5, 5))
      // Written but not yet fsync'd: not visible.
      expect(p.logEndOffset).toBe(10)
      expect(p.durableOffset).toBe(5)
      expect(p.read({ from: 0 }).records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4])
      expect(p.read({ from: 5 }).records).toEqual([])
      const reader = await Partition.openReadOnly(dir)
      expect((await readAll(reader, 0)).length).toBe(5)
      await pending
      expectNumbered(await readAll(reader, 0), 0, 10)
      await reader.close()
    } finally {
      await p.close()
    }
  })

  it('a read-only reader reads the rest of a segment the writer filled and sealed since the reader last looked', async () => {
    const dir = tempDir()
    // A reader needs no lock, so writer and reader can share this process, in a fixed order.
    const writer = await Partition.open(dir, { segmentBytes: 1024, indexIntervalBytes: 64 })
    try {
      await writer.append(numbered(0, 3))
      const reader = await Partition.openReadOnly(dir)
      try {
        expectNumbered(await readAll(reader, 0), 0, 3)
        // The writer fills the segment the reader has seen part of, rolls, and writes on.
        const first = writer.segments()[0]!.baseOffset
        while (writer.segments().at(-1)!.baseOffset === first) await writer.append(numbered(writer.logEndOffset, 3))
        await writer.append(numbered(writer.logEndOffset, 3))
        const end = writer.logEndOffset
        // Nothing skipped: the records after offset 2 in the first segment come next.
        expect(reader.read({ from: 3 }).records[0]?.offset).toBe(3)
        expectNumbered(await readAll(reader, 0), 0, end)
      } finally {
        await reader.close()
      }
    } finally {
      await writer.close()
    }
  })
})
