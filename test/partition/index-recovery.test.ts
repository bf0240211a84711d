/**
 * Indexes carry no checksum: whatever happens to them — deleted, left untrimmed (zero-filled) by a
 * crash, or holding a wrong entry — reads by offset and by timestamp stay right, for a sealed and
 * for the active segment, with and without the clean-shutdown marker.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Partition, type LogRecord, type PartitionOptions } from '../../src/seglog.js'
import { batchesOf, copyDir, readAll, removeTempDirs } from './helpers.js'

afterEach(removeTempDirs)

const OPTIONS: PartitionOptions = { segmentBytes: 2048, indexIntervalBytes: 200, maxIndexBytes: 1024 }
const T = 1_700_000_000_000
const COUNT = 300

/** Timestamps that mostly rise, with some going back: offset o gets T + 10·o, every 7th 500 ms earlier. */
const timestampOf = (o: number): number => T + o * 10 - (o % 7 === 0 ? 500 : 0)

let source: string
let segmentFiles: string[]
beforeAll(async () => {
  source = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-'))
  const p = await Partition.open(source, OPTIONS)
  for (let o = 0; o < COUNT; ) {
    const n = 1 + (o % 4)
    await p.append(Array.from({ length: Math.min(n, COUNT - o) }, (_, k) => ({ key: `k${o + k}`, value: `v-${o + k}`, timestamp: timestampOf(o + k) })))
    o += n
  }
  segmentFiles = p.segments().map((s) => path.basename(s.file))
  await p.close()
  expect(segmentFiles.length).toBeGreaterThanOrEqual(3)
})
afterAll(() => fs.rmSync(source, { recursive: true, force: true }))

/** Every offset reads back as itself, and every timestamp query agrees with a scan of the records. */
async function expectReadsRight(p: Partition, what: string): Promise<void> {
  expect(p.logEndOffset, what).toBe(COUNT)
  const failures: string[] = []
  for (let o = 0; o < COUNT; o++) {
    const first = p.read({ from: o, maxBytes: 1 }).records[0]
    if (first?.offset !== o || first.value?.toString() !== `v-${o}`) failures.push(`read({ from: ${o} }) gave offset ${first?.offset}`)
  }
  const all: LogRecord[] = await readAll(p, 0)
  if (all.length !== COUNT) failures.push(`records() gave ${all.length} records`)
  for (let o = 0; o < COUNT; o += 3) {
    for (const t of [timestampOf(o), timestampOf(o) - 1, timestampOf(o) + 1]) {
      const want = all.find((r) => r.timestamp >= t)?.offset ?? COUNT
      const got = p.offsetForTimestamp(t)
      if (got !== want) failures.push(`offsetForTimestamp(${t}) gave ${got}, expected ${want}`)
    }
  }
  expect(failures, what).toEqual([])
}

type Damage = { name: string; apply: (dir: string, base: string) => void }

const entries = (file: string): Array<[number, number]> => {
  const b = fs.readFileSync(file)
  return Array.from({ length: b.length / 8 }, (_, i) => [b.readUInt32BE(i * 8), b.readUInt32BE(i * 8 + 4)])
}
const writeEntry = (file: string, i: number, relativeOffset: number, position: number): void => {
  const b = fs.readFileSync(file)
  b.writeUInt32BE(relativeOffset, i * 8)
  b.writeUInt32BE(position, i * 8 + 4)
  fs.writeFileSync(file, b)
}

const DAMAGES: Damage[] = [
  { name: 'offset index deleted', apply: (dir, base) => fs.rmSync(path.join(dir, `${base}.index`)) },
  {
    name: 'both indexes deleted',
    apply: (dir, base) => {
      fs.rmSync(path.join(dir, `${base}.index`))
      fs.rmSync(path.join(dir, `${base}.timeindex`))
    },
  },
  {
    // A crash before the trim leaves the preallocated zeros after the entries.
    name: 'both indexes untrimmed (zero-filled to the preallocated size)',
    apply: (dir, base) => {
      fs.truncateSync(path.join(dir, `${base}.index`), 1024)
      fs.truncateSync(path.join(dir, `${base}.timeindex`), 1020)
    },
  },
  {
    name: 'both indexes untrimmed past the preallocated size',
    apply: (dir, base) => {
      fs.truncateSync(path.join(dir, `${base}.index`), 4096)
      fs.truncateSync(path.join(dir, `${base}.timeindex`), 4092)
    },
  },
  {
    name: 'a middle offset index entry pointing inside a batch',
    apply: (dir, base) => {
      const file = path.join(dir, `${base}.index`)
      const e = entries(file)
      const i = Math.floor(e.length / 2)
      writeEntry(file, i, e[i]![0], e[i]![1] + 5)
    },
  },
  {
    name: 'a middle offset index entry pointing at a later batch',
    apply: (dir, base) => {
      const file = path.join(dir, `${base}.index`)
      const e = entries(file)
      const i = Math.floor(e.length / 2)
      // The batch right after the one the entry names: entries still increase.
      const next = batchesOf(path.join(dir, `${base}.log`)).find((b) => b.position > e[i]![1])!
      expect(next.position).toBeLessThan(e[i + 1]?.[1] ?? Infinity)
      writeEntry(file, i, e[i]![0], next.position)
    },
  },
  {
    name: 'the last offset index entry pointing past the end of the log',
    apply: (dir, base) => {
      const file = path.join(dir, `${base}.index`)
      const e = entries(file)
      const last = e.length - 1
      writeEntry(file, last, e[last]![0], fs.statSync(path.join(dir, `${base}.log`)).size + 100)
    },
  },
  {
    name: 'an offset index entry naming the wrong offset',
    apply: (dir, base) => {
      const file = path.join(dir, `${base}.index`)
      const e = entries(file)
      const i = Math.floor(e.length / 2)
      // Still between its neighbours, but not the last offset of the batch at its position.
      writeEntry(file, i, e[i - 1]![0] + 1, e[i]![1])
    },
  },
  {
    name: 'a time index entry naming a later offset',
    apply: (dir, base) => {
      const file = path.join(dir, `${base}.timeindex`)
      const b = fs.readFileSync(file)
      const n = b.length / 12
      const i = Math.floor(n / 2)
      const limit = i + 1 < n ? b.readUInt32BE((i + 1) * 12 + 8) - 1 : b.readUInt32BE(i * 12 + 8) + 20
      b.writeUInt32BE(limit, i * 12 + 8)
      fs.writeFileSync(file, b)
    },
  },
]

describe('Partition reads with damaged indexes', () => {
  for (const segment of ['sealed', 'active'] as const) {
    for (const marker of [true, false]) {
      describe(`of the ${segment} segment, ${marker ? 'with' : 'without'} the clean-shutdown marker`, () => {
        for (const damage of DAMAGES) {
          it(`reads every offset and timestamp right: ${damage.name}`, async () => {
            const dir = copyDir(source)
            const base = (segment === 'sealed' ? segmentFiles[1] : segmentFiles.at(-1))!.replace('.log', '')
            damage.apply(dir, base)
            if (!marker) fs.rmSync(path.join(dir, 'clean-shutdown'))
            const p = await Partition.open(dir, OPTIONS)
            try {
              await expectReadsRight(p, `${damage.name}, after open`)
            } finally {
              await p.close()
            }
            // Whatever open did to the indexes, the next open (clean) reads right too.
            const again = await Partition.open(dir, OPTIONS)
            try {
              await expectReadsRight(again, `${damage.name}, after a clean reopen`)
            } finally {
              await again.close()
            }
            // And so does a read-only process, which may not repair anything.
            const reader = await Partition.openReadOnly(dir, OPTIONS)
            try {
              await expectReadsRight(reader, `${damage.name}, read-only`)
            } finally {
              await reader.close()
            }
          })
        }
      })
    }
  }

  it('serves a read-only process right from damaged indexes it may not repair', async () => {
    const dir = copyDir(source)
    for (const base of segmentFiles.map((f) => f.replace('.log', ''))) {
      fs.truncateSync(path.join(dir, `${base}.index`), 1024)
      fs.rmSync(path.join(dir, `${base}.timeindex`))
    }
    const before = fs.readdirSync(dir).map((n) => [n, fs.statSync(path.join(dir, n)).size])
    const reader = await Partition.openReadOnly(dir, OPTIONS)
    try {
      await expectReadsRight(reader, 'read-only, every index damaged')
    } finally {
      await reader.close()
    }
    // A reader writes nothing.
    expect(fs.readdirSync(dir).map((n) => [n, fs.statSync(path.join(dir, n)).size])).toEqual(before)
  })
})
