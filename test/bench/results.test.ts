/**
 * The benchmark itself never runs in `npm test`; this only checks that a quick run of one
 * scenario writes a well-formed results file (and its Markdown and SVG beside it).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PROJECT_ROOT } from '../kafka-fixtures-folder.js'

const RUN = path.join(PROJECT_ROOT, 'dist/bench/run.js')
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-bench-test-'))

afterAll(() => fs.rmSync(out, { recursive: true, force: true }))

function positive(value: unknown, what: string): void {
  expect(typeof value, what).toBe('number')
  expect(Number.isFinite(value) && (value as number) > 0, `${what} = ${String(value)} is finite and positive`).toBe(true)
}

describe('npm run bench -- --quick --scenario append-1k', () => {
  it('writes latest.json with the machine, one scenario, and finite positive figures', () => {
    expect(fs.existsSync(RUN), `${RUN} is missing: run 'npm run build' first`).toBe(true)
    const run = spawnSync(process.execPath, [RUN, '--quick', '--scenario', 'append-1k', '--out', out], { encoding: 'utf8', timeout: 55_000 })
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/^machine: /m)

    const result = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8')) as Record<string, any>
    expect(result.version).toBe(1)
    expect(result.quick).toBe(true)
    expect(Number.isNaN(Date.parse(result.startedAt))).toBe(false)
    positive(result.seconds, 'seconds')
    const machine = result.machine
    for (const key of ['cpu', 'os', 'node', 'disk', 'dir', 'fsyncModes', 'crc32c']) expect(typeof machine[key], `machine.${key}`).toBe('string')
    positive(machine.cores, 'machine.cores')
    positive(machine.memoryGiB, 'machine.memoryGiB')
    expect(machine.node).toBe(process.version)

    expect(result.scenarios).toHaveLength(1)
    const [scenario] = result.scenarios
    expect(scenario.name).toBe('append-1k')
    expect(scenario.status).toBe('ok')
    positive(scenario.seconds, 'scenario.seconds')
    positive(scenario.peakRssBytes, 'scenario.peakRssBytes')
    const ran = scenario.rows.filter((r: any) => r.status === 'ok')
    expect(ran.map((r: any) => r.system)).toEqual(expect.arrayContaining(['seglog', 'raw']))
    for (const row of scenario.rows) {
      expect(typeof row.label).toBe('string')
      expect(typeof row.durability).toBe('string')
      if (row.status === 'skipped') {
        expect(row.role).toBe('peer') // only peers may be skipped, always with a reason
        expect(row.reason).toMatch(/\S/)
        continue
      }
      expect(row.status).toBe('ok')
      for (const key of ['seconds', 'records', 'bytes', 'recordsPerSec', 'bytesPerSec']) positive(row[key], `${row.system} ${key}`)
    }
    expect(scenario.targets.length).toBeGreaterThan(0)
    for (const target of scenario.targets) {
      expect(typeof target.target).toBe('string')
      expect(typeof target.actual).toBe('string')
      expect([true, false, null]).toContain(target.met)
    }

    expect(fs.readFileSync(path.join(out, 'latest.md'), 'utf8')).toMatch(/\| append-1k \|/)
    expect(fs.readFileSync(path.join(out, 'latest.svg'), 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  }, 60_000)
})
