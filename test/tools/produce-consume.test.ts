/**
 * `seglog produce`, `seglog consume` and `seglog tail`, run as users run them: the built CLI in
 * child processes on a log in a temporary folder.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, Background, CLI, lines, ndjson, seglog, snapshot } from './run-cli.js'

let tmp: string
let dir: string
beforeAll(() => {
  assertBuilt()
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-produce-'))
  dir = path.join(tmp, 'log')
})
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

const COUNT = 1000
const KEYS = 37
/** Line i of the input: key `k<i mod 37>`, value `value-<i>`. */
const input = Array.from({ length: COUNT }, (_, i) => `k${i % KEYS}:value-${i}`)

interface Placed {
  key: string
  value: string
  partition: number
  offset: number
}

describe('seglog produce and consume', () => {
  let placed: Placed[] = []

  it('produces one record per line with --key-sep and echoes partition and offset in input order', () => {
    const run = seglog(['produce', dir, 'events', '--partitions', '4', '--key-sep', ':', '--echo'], input.join('\n') + '\n')
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const echoed = lines(run.stdout)
    expect(echoed).toHaveLength(COUNT)
    placed = echoed.map((line, i) => {
      expect(line).toMatch(/^[0-3] [0-9]+$/)
      const [partition, offset] = line.split(' ').map(Number) as [number, number]
      const [key, value] = (input[i] as string).split(':') as [string, string]
      return { key, value, partition, offset }
    })
    // Same key, same partition.
    const partitionOfKey = new Map<string, number>()
    for (const p of placed) {
      expect(partitionOfKey.get(p.key) ?? p.partition).toBe(p.partition)
      partitionOfKey.set(p.key, p.partition)
    }
    // Per partition, offsets 0, 1, 2, … in input order: nothing lost, nothing reordered.
    for (let partition = 0; partition < 4; partition++) {
      const offsets = placed.filter((p) => p.partition === partition).map((p) => p.offset)
      expect(offsets).toEqual(offsets.map((_, i) => i))
    }
    expect(new Set(placed.map((p) => p.partition)).size).toBeGreaterThan(1)
  })

  it('consumes every line back, in order within each partition, writing nothing without --group', () => {
    const before = snapshot(dir)
    const run = seglog(['consume', dir, 'events', '--print-key'])
    expect(snapshot(dir)).toEqual(before)
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    const printed = lines(run.stdout)
    expect([...printed].sort()).toEqual(input.map((line) => line.replace(':', '\t')).sort())
    // The lines of one key (one partition) come in input order.
    for (let k = 0; k < KEYS; k++) {
      const ofKey = printed.filter((line) => line.startsWith(`k${k}\t`))
      expect(ofKey).toEqual(input.filter((line) => line.startsWith(`k${k}:`)).map((line) => line.replace(':', '\t')))
    }
    const values = seglog(['consume', dir, 'events'])
    expect([...lines(values.stdout)].sort()).toEqual(placed.map((p) => p.value).sort())
  })

  it('prints --json records with dump --records fields plus topic and partition', () => {
    const run = seglog(['consume', dir, 'events', '--json'])
    expect(run.status).toBe(0)
    const records = ndjson(run.stdout)
    expect(records).toHaveLength(COUNT)
    for (const r of records) {
      expect(Object.keys(r)).toEqual(['topic', 'partition', 'offset', 'timestamp', 'key', 'value', 'headers'])
      expect(r.topic).toBe('events')
      expect(typeof r.timestamp).toBe('number')
      expect(r.headers).toEqual([])
      const where = placed.find((p) => p.partition === r.partition && p.offset === r.offset)
      expect(where).toBeDefined()
      expect(r.key).toBe(where?.key)
      expect(r.value).toBe(where?.value)
    }
    // Offsets increase within each partition.
    for (let partition = 0; partition < 4; partition++) {
      const offsets = records.filter((r) => r.partition === partition).map((r) => r.offset as number)
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b))
    }
  })

  it('reads one partition from an offset, and stops after --max records', () => {
    const inPartition = placed.filter((p) => p.partition === placed[0]?.partition)
    const run = seglog(['consume', dir, 'events', '--partition', String(inPartition[0]?.partition), '--offset', '2', '--json'])
    expect(run.status).toBe(0)
    expect(ndjson(run.stdout).map((r) => r.value)).toEqual(inPartition.slice(2).map((p) => p.value))
    const max = seglog(['consume', dir, 'events', '--max', '7'])
    expect(max.status).toBe(0)
    expect(lines(max.stdout)).toHaveLength(7)
    const latest = seglog(['consume', dir, 'events', '--from', 'latest'])
    expect(latest.status).toBe(0)
    expect(latest.stdout).toBe('')
  })

  it('keeps headers, null keys, empty lines and bytes exactly; --json lines in, --values base64 out', () => {
    const text = 'no separator here\n\nkey:with:colons\ttab\r\nlast line without newline'
    const run = seglog(['produce', dir, 'misc', '--partitions', '1', '--key-sep', ':', '--header', 'source=test', '--header', 'eq=a=b'], text)
    expect(run.status).toBe(0)
    expect(run.stdout).toBe('')
    const json = seglog(['produce', dir, 'misc', '--json'], '{"key":"jk","value":"jv","headers":[["h",null]]}\n\n{"value":null}\n')
    expect(json.stderr).toBe('')
    expect(json.status).toBe(0)
    const records = ndjson(seglog(['consume', dir, 'misc', '--json', '--values', 'base64']).stdout)
    const decode = (v: unknown): string | null => (v === null ? null : Buffer.from(v as string, 'base64').toString('utf8'))
    expect(records.map((r) => [decode(r.key), decode(r.value)])).toEqual([
      [null, 'no separator here'],
      [null, ''],
      ['key', 'with:colons\ttab\r'],
      [null, 'last line without newline'],
      ['jk', 'jv'],
      [null, null],
    ])
    expect(records[0]?.headers).toEqual([
      ['source', Buffer.from('test').toString('base64')],
      ['eq', Buffer.from('a=b').toString('base64')],
    ])
    expect(records[4]?.headers).toEqual([['h', null]])
    // Text output keeps a record on one line: control characters are escaped.
    expect(lines(seglog(['consume', dir, 'misc', '--offset', '2', '--max', '1']).stdout)).toEqual(['with:colons\\ttab\\r'])
  })

  it('rejects a bad --json line with its line number, keeping the lines before it', () => {
    const run = seglog(['produce', dir, 'misc', '--json'], '{"value":"ok"}\n{"value":1}\n{"value":"never"}\n')
    expect(run.status).toBe(2)
    expect(run.stderr).toBe('seglog produce: line 2: "value" must be a string or null\n')
    const values = ndjson(seglog(['consume', dir, 'misc', '--json']).stdout).map((r) => r.value)
    expect(values.at(-1)).toBe('ok')
  })
})

describe('seglog consume --group', () => {
  it('commits what it printed: a second run prints only records produced since', () => {
    const first = seglog(['consume', dir, 'events', '--group', 'billing'])
    expect(first.status).toBe(0)
    expect(lines(first.stdout)).toHaveLength(COUNT)
    const again = seglog(['consume', dir, 'events', '--group', 'billing'])
    expect(again.status).toBe(0)
    expect(again.stdout).toBe('')
    const more = Array.from({ length: 25 }, (_, i) => `k${i}:more-${i}`)
    expect(seglog(['produce', dir, 'events', '--key-sep', ':'], more.join('\n')).status).toBe(0)
    const third = seglog(['consume', dir, 'events', '--group', 'billing'])
    expect(third.status).toBe(0)
    expect(lines(third.stdout).sort()).toEqual(more.map((line) => line.split(':')[1]).sort())
    expect(seglog(['consume', dir, 'events', '--group', 'billing']).stdout).toBe('')
  })

  it('with --max, commits only the records it printed and resumes after them', () => {
    const first = seglog(['consume', dir, 'events', '--group', 'audit', '--max', '10'])
    expect(first.status).toBe(0)
    expect(lines(first.stdout)).toHaveLength(10)
    const rest = seglog(['consume', dir, 'events', '--group', 'audit'])
    expect(rest.status).toBe(0)
    const all = [...lines(first.stdout), ...lines(rest.stdout)].sort()
    expect(all).toEqual(lines(seglog(['consume', dir, 'events']).stdout).sort())
  })

  it('refuses --partition and --offset with --group', () => {
    const run = seglog(['consume', dir, 'events', '--group', 'g', '--partition', '0'])
    expect(run.status).toBe(2)
    expect(lines(run.stderr)).toHaveLength(1)
  })
})

describe('seglog tail', () => {
  it('prints records produced after it started, until it is stopped', async () => {
    expect(seglog(['produce', dir, 'live', '--partitions', '2'], 'before\n').status).toBe(0)
    const tail = new Background(['tail', dir, 'live'])
    try {
      await tail.waitFor((out) => out.includes('before\n')) // it is running and caught up
      const after = Array.from({ length: 50 }, (_, i) => `after-${i}`)
      expect(seglog(['produce', dir, 'live'], after.join('\n')).status).toBe(0)
      await tail.waitFor((out) => lines(out).length === 51)
      expect(lines(tail.stdout).sort()).toEqual(['before', ...after].sort())
    } finally {
      const exit = await tail.stop('SIGTERM')
      expect(exit.code).toBe(0) // a clean stop
    }
    expect(tail.stderr).toBe('')
  })

  it('as a group, commits what it printed before it was stopped', async () => {
    const tail = new Background(['tail', dir, 'live', '--group', 'watchers'])
    await tail.waitFor((out) => lines(out).length === 51)
    expect(await tail.stop('SIGINT')).toEqual({ code: 0, signal: null })
    expect(seglog(['consume', dir, 'live', '--group', 'watchers']).stdout).toBe('')
  })
})

describe('errors and help', () => {
  it('refuses a missing topic without --partitions, in one line naming the flag', () => {
    const run = seglog(['produce', dir, 'nope'], 'x\n')
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/^seglog produce: topic 'nope' does not exist in .*--partitions N to create it\n$/)
    const nowhere = path.join(tmp, 'no-log-here')
    const none = seglog(['produce', nowhere, 'nope'], 'x\n')
    expect(none.status).toBe(2)
    expect(lines(none.stderr)).toHaveLength(1)
    expect(none.stderr).toContain('--partitions')
    expect(fs.existsSync(nowhere)).toBe(false)
  })

  it('refuses another partition count for an existing topic with the log’s error', () => {
    expect(seglog(['produce', dir, 'events', '--partitions', '4'], '').status).toBe(0)
    const run = seglog(['produce', dir, 'events', '--partitions', '3'], 'x\n')
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/^seglog produce: Cannot create topic 'events': it exists with a different config/)
  })

  it('reports a missing topic or log for consume, and creates nothing', () => {
    const missing = seglog(['consume', dir, 'nope'])
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/^seglog consume: topic 'nope' does not exist in .* \(its topics: .*events.*\)\n$/)
    const nowhere = path.join(tmp, 'absent')
    expect(seglog(['tail', nowhere, 'x']).status).toBe(2)
    expect(fs.existsSync(nowhere)).toBe(false)
  })

  it('stops quietly when the reader of its output goes away (EPIPE), exit 0', () => {
    const many = Array.from({ length: 50_000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`)
    expect(seglog(['produce', dir, 'many', '--partitions', '1'], many.join('\n')).status).toBe(0)
    // 2.5 MB through `head -1`: the pipe closes long before the end.
    const script = `"${process.execPath}" "${CLI}" consume "${dir}" many | head -1; exit \${PIPESTATUS[0]}`
    const run = spawnSync('bash', ['-c', script], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.stdout).toBe(`${many[0]}\n`)
    expect(run.status).toBe(0)
  })

  it.each(['produce', 'consume', 'tail', 'stats'])('%s --help exits 0', (command) => {
    const run = seglog([command, '--help'])
    expect(run.status).toBe(0)
    expect(run.stdout).toContain(`Usage: seglog ${command} [options] <dir>`)
  })
})
