/**
 * `npm run bench [-- --quick] [-- --scenario NAME] [-- --out DIR] [-- --no-peers]`: the benchmark
 * suite. Prints the machine, then runs each scenario in its own process (dist/bench/scenario.js),
 * seglog beside its raw-disk baselines and its peers in that same process, and writes
 * `latest.json`, `latest.md` and `latest.svg` to DIR (default bench/results/).
 *
 * Set SEGLOG_BENCH_DIR to choose the disk the data is written to (default: the OS temp folder).
 * Exit status: 0 when every scenario ran (a skipped peer or scenario is not a failure), 1 when a
 * scenario failed, 2 on a usage error.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchRoot, describeMachine, machine, peerVersions } from './lib/machine.js'
import { RESULT_VERSION, type RunResult, type ScenarioResult } from './lib/result.js'
import { formatMs, nowMs, secondsSince } from './lib/stats.js'
import { markdown } from './report/markdown.js'
import { svgChart } from './report/svg.js'
import { SCENARIOS, scenarioNamed } from './scenarios/index.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const PACKAGE_ROOT = path.resolve(HERE, '..', '..')
const USAGE = `usage: node dist/bench/run.js [--quick] [--scenario NAME[,NAME…]]… [--out DIR] [--no-peers]
  --quick          small data and short loops (a smoke run, under 2 minutes)
  --scenario NAME  run only these scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}
  --out DIR        write latest.json, latest.md and latest.svg there (default bench/results)
  --no-peers       skip SQLite, NATS and Redis
  --render FILE    run nothing: write latest.md and latest.svg again from a latest.json
environment: SEGLOG_BENCH_DIR chooses the folder (disk) the data is written to`

interface Options {
  quick: boolean
  noPeers: boolean
  scenarios: string[]
  out: string
  render: string | undefined
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { quick: false, noPeers: false, scenarios: [], out: path.join(PACKAGE_ROOT, 'bench', 'results'), render: undefined }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) usage(`${arg} needs a value`)
      return v as string
    }
    if (arg === '--quick') options.quick = true
    else if (arg === '--no-peers') options.noPeers = true
    else if (arg === '--scenario') options.scenarios.push(...value().split(','))
    else if (arg.startsWith('--scenario=')) options.scenarios.push(...arg.slice('--scenario='.length).split(','))
    else if (arg === '--render') options.render = path.resolve(value())
    else if (arg === '--out') options.out = path.resolve(value())
    else if (arg.startsWith('--out=')) options.out = path.resolve(arg.slice('--out='.length))
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`)
      process.exit(0)
    } else usage(`unknown argument '${arg}'`)
  }
  for (const name of options.scenarios) if (scenarioNamed(name) === undefined) usage(`unknown scenario '${name}'`)
  return options
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`)
  process.exit(2)
}

function sqliteVersion(): string | undefined {
  try {
    const require = createRequire(import.meta.url)
    const pkg = require('better-sqlite3/package.json') as { version: string }
    return pkg.version
  } catch {
    return undefined
  }
}

/** Limits per scenario process; past it the process group is killed and the scenario failed. */
const TIMEOUT_MS = { quick: 90_000, full: 360_000 }

let current: number | undefined

/** End the scenario's process group (it and any server it started), if anything is left of it. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // ESRCH: the group is gone already
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killGroup(current)
    process.exit(130)
  })
}

async function runScenario(name: string, options: Options, workDir: string): Promise<ScenarioResult> {
  const resultFile = path.join(workDir, `${name}.json`)
  const args = [path.join(HERE, 'scenario.js'), name, '--result', resultFile]
  if (options.quick) args.push('--quick')
  if (options.noPeers) args.push('--no-peers')
  const start = nowMs()
  // Detached: the scenario leads its own process group, so the servers it starts end with it.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true })
  current = child.pid
  const limit = options.quick ? TIMEOUT_MS.quick : TIMEOUT_MS.full
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killGroup(child.pid)
  }, limit)
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c))
    child.once('error', () => resolve(null))
  })
  clearTimeout(timer)
  killGroup(child.pid)
  current = undefined
  const scenario = scenarioNamed(name)
  const failed = (reason: string): ScenarioResult => ({
    name,
    workload: scenario?.workload ?? '',
    status: 'failed',
    reason,
    metric: scenario?.metric ?? 'opsPerSec',
    seconds: secondsSince(start),
    peakRssBytes: 0,
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    rows: [],
    targets: [],
    notes: [],
  })
  if (timedOut) return failed(`timed out after ${formatMs(limit)}`)
  try {
    return JSON.parse(fs.readFileSync(resultFile, 'utf8')) as ScenarioResult
  } catch {
    return failed(`the scenario process exited with ${code ?? 'an error'} and wrote no result`)
  }
}

function summary(s: ScenarioResult): string {
  if (s.status !== 'ok') return `${s.name}: ${s.status}${s.reason === undefined ? '' : ` (${s.reason})`}`
  const targets = s.targets.map((t) => `${t.met === null ? '·' : t.met ? '✓' : '✗'} ${t.target}: ${t.actual}`)
  return [`${s.name}: ${s.seconds.toFixed(1)} s`, ...targets.map((t) => `    ${t}`)].join('\n')
}

const options = parseArgs(process.argv.slice(2))
if (options.render !== undefined) {
  const previous = JSON.parse(fs.readFileSync(options.render, 'utf8')) as RunResult
  fs.mkdirSync(options.out, { recursive: true })
  fs.writeFileSync(path.join(options.out, 'latest.md'), markdown(previous) + '\n')
  fs.writeFileSync(path.join(options.out, 'latest.svg'), svgChart(previous))
  process.stdout.write(`wrote latest.md and latest.svg in ${options.out} from ${options.render}\n`)
  process.exit(0)
}
const root = benchRoot()
const peers = peerVersions()
const sqlite = sqliteVersion()
if (sqlite !== undefined) peers['better-sqlite3'] = sqlite
const m = machine(root, peers)
process.stdout.write(`${describeMachine(m)}\n\n`)
const names = options.scenarios.length > 0 ? options.scenarios : SCENARIOS.map((s) => s.name)
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-bench-results-'))
const startedAt = new Date().toISOString()
const start = nowMs()
const results: ScenarioResult[] = []
try {
  for (const name of names) {
    process.stdout.write(`== ${name}${options.quick ? ' (quick)' : ''}\n`)
    const result = await runScenario(name, options, workDir)
    results.push(result)
    process.stdout.write(`${summary(result)}\n\n`)
  }
} finally {
  fs.rmSync(workDir, { recursive: true, force: true })
}
const run: RunResult = { version: RESULT_VERSION, startedAt, quick: options.quick, seconds: secondsSince(start), machine: m, scenarios: results }
fs.mkdirSync(options.out, { recursive: true })
fs.writeFileSync(path.join(options.out, 'latest.json'), JSON.stringify(run, null, 2) + '\n')
fs.writeFileSync(path.join(options.out, 'latest.md'), markdown(run) + '\n')
fs.writeFileSync(path.join(options.out, 'latest.svg'), svgChart(run))
process.stdout.write(`wrote ${['latest.json', 'latest.md', 'latest.svg'].map((f) => path.join(options.out, f)).join(', ')} in ${run.seconds.toFixed(0)} s\n`)
process.exitCode = results.some((r) => r.status === 'failed') ? 1 : 0
