/**
 * `seglog compact DIR TOPIC` and the DIRTY column of `seglog stats` for a compacted topic.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Log } from '../../src/seglog.js'
import { assertBuilt, lines, ndjson, seglog } from './run-cli.js'

let root: string
beforeAll(assertBuilt)
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-compact-cli-'))
})
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true })
})

async function fill(): Promise<void> {
  const log = await Log.open(root)
  await log.createTopic('table', { partitions: 2, cleanupPolicy: 'compact', segmentBytes: 1024 })
  await log.createTopic('plain', { partitions: 1 })
  const producer = log.producer()
  for (let i = 0; i < 400; i++) await producer.send('table', { key: `k${i % 8}`, value: `value ${i}` })
  await log.close()
}

describe('seglog compact', () => {
  it('compacts every partition, keeps the newest value per key, and stats shows the dirty ratio fall', async () => {
    await fill()
    const before = JSON.parse(seglog(['stats', '--json', root]).stdout) as { topics: Array<{ name: string; partitions: Array<{ dirtyRatio?: number }> }> }
    const table = before.topics.find((t) => t.name === 'table')
    expect(table?.partitions.every((p) => (p.dirtyRatio ?? 0) > 0.5)).toBe(true)
    expect(before.topics.find((t) => t.name === 'plain')?.partitions[0]?.dirtyRatio).toBeUndefined()

    const run = seglog(['compact', '--json', root, 'table'])
    expect(run.status, run.stderr).toBe(0)
    const results = ndjson(run.stdout)
    expect(results.map((r) => r.partition)).toEqual([0, 1])
    expect(results.every((r) => (r.recordsRemoved as number) > 0)).toBe(true)

    const after = JSON.parse(seglog(['stats', '--json', root]).stdout) as typeof before
    expect(after.topics.find((t) => t.name === 'table')?.partitions.every((p) => p.dirtyRatio === 0)).toBe(true)
    expect(lines(seglog(['stats', root]).stdout)[0]).toMatch(/DIRTY$/)

    // The newest value of every key is still there.
    const consumed = lines(seglog(['consume', '--print-key', root, 'table']).stdout)
    const state = new Map(consumed.map((line) => line.split('\t') as [string, string]))
    for (let k = 0; k < 8; k++) expect(state.get(`k${k}`)).toBe(`value ${392 + k}`)
  })

  it('refuses a topic whose cleanupPolicy is delete, in one line, exit 2', async () => {
    await fill()
    const run = seglog(['compact', root, 'plain'])
    expect(run.status).toBe(2)
    expect(run.stderr).toBe("seglog compact: topic 'plain' has cleanupPolicy 'delete'; only compacted topics can be compacted\n")
  })
})
