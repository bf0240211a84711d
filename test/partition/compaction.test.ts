/**
 * Compaction: the newest record per key survives with its offset, tombstones go after their
 * horizon, the map may fill (several passes), producers' last batches stay, and a SIGKILL at
 * any point of a compaction leaves the same visible key → value state.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Partition, type PartitionOptions } from '../../src/partition/index.js'

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'compact-child.mjs')
let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-compact-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const options: PartitionOptions = { segmentBytes: 1024, cleanupPolicy: 'compact', deleteRetentionMs: 60_000 }

/** Replay the partition into key → value (a tombstone deletes), with every record's offset. */
async function replay(p: Partition): Promise<{ state: Map<string, string>; offsets: number[]; tombstones: number }> {
  const state = new Map<string, string>()
  const offsets: number[] = []
  let tombstones = 0
  for await (const r of p.records({ from: p.logStartOffset })) {
    offsets.push(r.offset)
    if (r.value === null) {
      tombstones++
      state.delete(String(r.key))
    } else state.set(String(r.key), String(r.value))
  }
  return { state, offsets, tombstones }
}

function sorted(map: Map<string, string>): Array<[string, string]> {
  return [...map].sort((a, b) => (a[0] < b[0] ? -1 : 1))
}

describe('compaction', () => {
  it('matches a plain Map model over random puts, deletes, compactions and reopens', async () => {
    const seed = Number(process.env.SEED ?? Date.now())
    console.log(`compaction model test seed ${seed}`)
    const op = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('put' as const), key: fc.integer({ min: 0, max: 30 }), value: fc.string({ maxLength: 40 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 30 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
    )
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 150 }), async (ops) => {
        const folder = fs.mkdtempSync(path.join(dir, 'p-'))
        const model = new Map<string, string>()
        const lastOffsetOfKey = new Map<string, number>()
        let p = await Partition.open(folder, options)
        try {
          for (const o of ops) {
            if (o.kind === 'put' || o.kind === 'delete') {
              const key = `key-${o.key}`
              const value = o.kind === 'put' ? o.value : null
              const { baseOffset } = await p.append([{ key, value }])
              lastOffsetOfKey.set(key, baseOffset)
              if (value === null) model.delete(key)
              else model.set(key, value)
            } else if (o.kind === 'compact') {
              await p.compact()
            } else {
              await p.close()
              p = await Partition.open(folder, options)
            }
          }
          const { state, offsets } = await replay(p)
          expect(sorted(state)).toEqual(sorted(model))
          // Survivors keep their offsets: each key's newest record is still at its original offset.
          for (const [key, offset] of lastOffsetOfKey) if (model.has(key)) expect(offsets).toContain(offset)
          expect([...offsets].sort((a, b) => a - b)).toEqual(offsets)
        } finally {
          await p.close()
        }
      }),
      { seed, numRuns: 25 },
    )
  })

  it('compacts in several passes when the key map fills, with the same result', async () => {
    const p = await Partition.open(dir, { ...options, compactionBufferBytes: 1024 }) // 64 slots: 57 keys per pass
    const model = new Map<string, string>()
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 200; k++) {
        const key = `k${k}`
        await p.append([{ key, value: `r${round}-${k}` }])
        model.set(key, `r${round}-${k}`)
      }
    }
    await p.append([{ key: 'last', value: 'x' }])
    model.set('last', 'x')
    const result = await p.compact()
    expect(result.passes).toBeGreaterThan(1)
    expect(result.recordsRemoved).toBeGreaterThan(0)
    const { state, offsets } = await replay(p)
    expect(sorted(state)).toEqual(sorted(model))
    // Only the newest per key remains among the compacted (sealed) records.
    expect(offsets.length).toBeLessThan(250)
    await p.close()
  })

  it('keeps a tombstone until its delete horizon, then removes it', async () => {
    const p = await Partition.open(dir, { ...options, deleteRetentionMs: 200 })
    await p.append([{ key: 'a', value: '1' }])
    await p.append([{ key: 'a', value: null }])
    for (let i = 0; i < 40; i++) await p.append([{ key: `fill-${i}`, value: 'x'.repeat(40) }])
    await p.compact()
    let { tombstones, state } = await replay(p)
    expect(tombstones).toBe(1)
    expect(state.has('a')).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const result = await p.compact()
    expect(result.tombstonesRemoved).toBe(1)
    ;({ tombstones, state } = await replay(p))
    expect(tombstones).toBe(0)
    expect(state.has('a')).toBe(false)
    await p.close()
  })

  it('rejects records without a key on a compacted partition', async () => {
    const p = await Partition.open(dir, options)
    await expect(p.append([{ key: 'k', value: 'v' }, { value: 'no key' }])).rejects.toThrow(/record 1 has no key/)
    expect(p.logEndOffset).toBe(0)
    await p.close()
  })

  it("keeps each idempotent producer's newest batch, so a retry is still recognised after compaction", async () => {
    let p = await Partition.open(dir, options)
    await p.append([{ key: 'a', value: '1' }], { producerId: 5, producerEpoch: 0, baseSequence: 0 })
    for (let i = 0; i < 40; i++) await p.append([{ key: 'a', value: `other ${i}` }])
    await p.compact()
    await p.close()
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.snapshot')) fs.unlinkSync(path.join(dir, f))
    p = await Partition.open(dir, options)
    expect(await p.append([{ key: 'a', value: '1' }], { producerId: 5, producerEpoch: 0, baseSequence: 0 })).toMatchObject({ baseOffset: 0, duplicate: true })
    await p.close()
  })

  it('never touches the active segment', async () => {
    const p = await Partition.open(dir, { ...options, segmentBytes: 1 << 20 })
    for (let i = 0; i < 20; i++) await p.append([{ key: 'same', value: `v${i}` }])
    const result = await p.compact()
    expect(result.segmentsRewritten).toBe(0)
    expect((await replay(p)).offsets).toHaveLength(20)
    await p.close()
  })

  it('finishes a swap that a crash interrupted and drops an unfinished rewrite', async () => {
    let p = await Partition.open(dir, options)
    for (let i = 0; i < 60; i++) await p.append([{ key: `k${i % 5}`, value: `v${i}` }])
    await p.close()
    const before = await replayOf(dir)
    // An unfinished rewrite: garbage in a .cleaned file must be ignored and removed.
    const first = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort()[0] as string
    fs.writeFileSync(path.join(dir, `${first}.cleaned`), 'partial garbage')
    // A finished one: the segment's own bytes as a .swap file must be renamed over it.
    fs.copyFileSync(path.join(dir, first), path.join(dir, `${first}.swap`))
    p = await Partition.open(dir, options)
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.cleaned') || f.endsWith('.swap'))).toEqual([])
    expect(sorted((await replay(p)).state)).toEqual(sorted(before))
    await p.close()
  })

  it('leaves the same key → value state whenever a compaction is SIGKILLed', async () => {
    const iterations = 10
    let killedMidway = 0
    for (let i = 0; i < iterations; i++) {
      const folder = path.join(dir, `kill-${i}`)
      const p = await Partition.open(folder, { ...options, segmentBytes: 4096, fsync: 'never' })
      for (let n = 0; n < 3000; n += 10) {
        const batch = Array.from({ length: 10 }, (_, j) => ({ key: `k${(n + j) % 97}`, value: (n + j) % 11 === 0 ? null : `value-${n + j}-${'x'.repeat((n + j) % 50)}` }))
        await p.append(batch)
      }
      await p.close()
      const before = await replayOf(folder)
      const child = spawn(process.execPath, [CHILD, folder, String(2048 + (i % 3) * 4096)], { stdio: ['ignore', 'pipe', 'inherit'] })
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => (output += String(chunk)))
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 40)))
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
      if (!output.includes('done')) killedMidway++
      const after = await replayOf(folder)
      expect(sorted(after), `iteration ${i}`).toEqual(sorted(before))
    }
    // The test proves something only if kills landed inside compactions.
    expect(killedMidway).toBeGreaterThan(0)
  })
})

async function replayOf(folder: string): Promise<Map<string, string>> {
  const p = await Partition.open(folder, options)
  try {
    return (await replay(p)).state
  } finally {
    await p.close()
  }
}
