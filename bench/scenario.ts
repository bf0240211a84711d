/**
 * One scenario in its own process: `node dist/bench/scenario.js NAME [--quick] [--no-peers]
 * [--result FILE]`. run.ts starts one per scenario, so that one scenario's heap and page cache
 * do not skew the next; run it alone to profile (`node --cpu-prof dist/bench/scenario.js NAME`).
 * Writes the ScenarioResult as JSON to FILE (or stdout); progress goes to stderr.
 */
import fs from 'node:fs'
import os from 'node:os'
import type { ScenarioResult } from './lib/result.js'
import { benchRoot, tempDir } from './lib/machine.js'
import { nowMs, secondsSince } from './lib/stats.js'
import { scenarioNamed, SCENARIOS } from './scenarios/index.js'

const args = process.argv.slice(2)
const name = args.find((a) => !a.startsWith('--'))
const resultAt = args.indexOf('--result')
const resultFile = resultAt >= 0 ? args[resultAt + 1] : undefined
const scenario = name === undefined ? undefined : scenarioNamed(name)
if (scenario === undefined) {
  process.stderr.write(`usage: scenario.js NAME [--quick] [--no-peers] [--result FILE]; NAME is one of ${SCENARIOS.map((s) => s.name).join(', ')}\n`)
  process.exit(2)
}

const dir = tempDir(`seglog-bench-${scenario.name}-`, benchRoot())
const start = nowMs()
const loadAverage1m = Math.round((os.loadavg()[0] ?? 0) * 100) / 100
let result: ScenarioResult
try {
  const out = await scenario.run({ quick: args.includes('--quick'), noPeers: args.includes('--no-peers'), dir, log: (m) => process.stderr.write(`${m}\n`) })
  result = {
    name: scenario.name,
    workload: scenario.workload,
    status: out.skipped === undefined ? 'ok' : 'skipped',
    metric: scenario.metric,
    seconds: secondsSince(start),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    loadAverage1m,
    rows: out.rows,
    targets: out.targets,
    notes: out.notes,
  }
  if (out.skipped !== undefined) result.reason = out.skipped
} catch (err) {
  process.stderr.write(`scenario ${scenario.name} failed: ${(err as Error).stack ?? String(err)}\n`)
  result = {
    name: scenario.name,
    workload: scenario.workload,
    status: 'failed',
    reason: (err as Error).message ?? String(err),
    metric: scenario.metric,
    seconds: secondsSince(start),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    loadAverage1m,
    rows: [],
    targets: [],
    notes: [],
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
const json = JSON.stringify(result, null, 2) + '\n'
if (resultFile === undefined) process.stdout.write(json)
else fs.writeFileSync(resultFile, json)
// Peer clients may keep sockets or timers alive; the result is written, so end here.
process.exit(result.status === 'failed' ? 1 : 0)
