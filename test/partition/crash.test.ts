/**
 * A writer process killed with SIGKILL at a random moment, in the middle of appends, fsyncs and
 * segment rolls: on reopen every acknowledged record is there with its value, offsets have no
 * gaps, and the recovery is reported.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Partition } from '../../src/seglog.js'
import { Child, readAll, removeTempDirs, requireFreshDist, tempDir } from './helpers.js'

const children: Child[] = []
beforeAll(requireFreshDist)
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.kill()))
  removeTempDirs()
})

const seed = Number(process.env.SEED ?? Date.now())
console.log(`crash test seed: ${seed} (rerun with SEED=${seed})`)
/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function random(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('Partition after SIGKILL', () => {
  it('keeps every acknowledged record, with no gaps, when the writer is killed at a random moment (5 times)', async () => {
    const next = random(seed)
    for (let round = 0; round < 5; round++) {
      const dir = tempDir()
      // Small segments, so that some kills land in or near a roll.
      const writer = new Child('writer.mjs', [dir, 'crash', '0', '0', String(512 + Math.floor(next() * 2048))])
      children.push(writer)
      const acksWanted = 20 + Math.floor(next() * 300)
      await writer.waitForLine(() => writer.lines.length >= acksWanted)
      // A random moment after that: between two appends, in a write, in an fsync.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(next() * 15)))
      expect((await writer.kill('SIGKILL')).signal).toBe('SIGKILL')

      const acked = new Map<number, string>() // offset → value
      for (const line of writer.lines) {
        const [word, id, base, last] = line.split(' ')
        expect(word).toBe('ack')
        for (let o = Number(base); o <= Number(last); o++) acked.set(o, `b${id}-${o - Number(base)}`)
      }
      expect(acked.size).toBeGreaterThanOrEqual(acksWanted)

      const p = await Partition.open(dir)
      try {
        const what = `round ${round}, seed ${seed}`
        expect(p.recovery.clean, what).toBe(false)
        expect(p.recovery.repaired, what).toEqual([])
        const records = await readAll(p, 0)
        // Gap-free from 0, and at least everything acknowledged.
        expect(records.map((r) => r.offset), what).toEqual(records.map((_, i) => i))
        expect(records.length, what).toBeGreaterThanOrEqual(Math.max(...acked.keys()) + 1)
        for (const [offset, value] of acked) expect(records[offset]?.value?.toString(), `${what}, offset ${offset}`).toBe(value)
        // Records past the last acknowledgement are whole batches in order (written, not yet acknowledged).
        let batch = -1
        let k = 0
        for (const r of records) {
          const [id, index] = (r.value?.toString() ?? '').slice(1).split('-').map(Number)
          if (id !== batch) {
            expect(id, `${what}, offset ${r.offset}`).toBe(batch + 1)
            expect(index, `${what}, offset ${r.offset}`).toBe(0)
            if (batch >= 0) expect(k, `${what}, batch ${batch} size`).toBe((batch % 5) + 1)
            batch = id as number
            k = 0
          }
          expect(index).toBe(k++)
        }
        expect(k, `${what}, last batch size`).toBe((batch % 5) + 1)
        // The log goes on.
        const end = p.logEndOffset
        expect(await p.append([{ value: 'after' }])).toEqual({ baseOffset: end, lastOffset: end })
      } finally {
        await p.close()
      }
    }
  })
})
