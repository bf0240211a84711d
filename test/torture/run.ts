/**
 * `npm run torture [-- --quick] [-- --only sigkill,fuzz] [-- --seed N]`: run the reliability
 * scenarios one after the other, print one line of figures per scenario, and write every figure to
 * `test/torture/results.json`. Exit status 1 if any scenario found a failure (each is printed with
 * what to rerun). `--quick` takes under 3 minutes; the full run under 30.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { bitFlips } from './bit-flips.js'
import { consumerKills } from './consumer-kills.js'
import { exclusion } from './exclusion.js'
import { fuzz } from './fuzz.js'
import { hostileNames } from './hostile-names.js'
import { ioFaults } from './io-faults.js'
import { powerLoss } from './power-loss.js'
import { sigkill } from './sigkill.js'
import { PROJECT_ROOT, seedFromEnv, type Level, type Outcome, type Scenario } from './support.js'
import { truncation } from './truncation.js'

const SCENARIOS: ReadonlyArray<[string, Scenario]> = [
  ['sigkill', sigkill],
  ['power-loss', powerLoss],
  ['truncation', truncation],
  ['bit-flips', bitFlips],
  ['io-faults', ioFaults],
  ['fuzz', fuzz],
  ['hostile-names', hostileNames],
  ['exclusion', exclusion],
  ['consumer-offsets', consumerKills],
]

function parseArgs(argv: readonly string[]): { level: Level; only: Set<string> | undefined; seed: number; out: string } {
  let level: Level = 'full'
  let only: Set<string> | undefined
  let seed = seedFromEnv()
  let out = path.join(PROJECT_ROOT, 'test/torture/results.json')
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--quick') level = 'quick'
    else if (arg === '--test') level = 'test'
    else if (arg === '--full') level = 'full'
    else if (arg === '--only') only = new Set((argv[++i] ?? '').split(','))
    else if (arg === '--seed') seed = Number(argv[++i])
    else if (arg === '--out') out = path.resolve(argv[++i] ?? out)
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`usage: npm run torture -- [--quick] [--only ${SCENARIOS.map(([n]) => n).join(',')}] [--seed N] [--out FILE]\n`)
      process.exit(0)
    } else throw new Error(`unknown argument ${arg} (see --help)`)
  }
  if (only !== undefined) for (const name of only) if (!SCENARIOS.some(([n]) => n === name)) throw new Error(`unknown scenario ${name}`)
  if (!Number.isSafeInteger(seed)) throw new Error('--seed needs an integer')
  return { level, only, seed, out }
}

const { level, only, seed, out } = parseArgs(process.argv.slice(2))
// Child processes run a snapshot of dist/: a rebuild while the suite runs (npm test elsewhere)
// would otherwise hand a starting child a half-written file.
const snapshot = path.join(PROJECT_ROOT, 'dist', `torture-snapshot-${process.pid}`)
for (const entry of fs.readdirSync(path.join(PROJECT_ROOT, 'dist'))) {
  if (!entry.startsWith('torture-snapshot-')) fs.cpSync(path.join(PROJECT_ROOT, 'dist', entry), path.join(snapshot, entry), { recursive: true })
}
process.env.TORTURE_DIST = snapshot
process.on('exit', () => fs.rmSync(snapshot, { recursive: true, force: true }))
process.once('SIGINT', () => process.exit(130))
const cpu = os.cpus()[0]?.model ?? 'unknown cpu'
process.stdout.write(`seglog torture, ${level} run, seed ${seed}; ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}\n`)
const outcomes: Outcome[] = []
const started = Date.now()
for (const [name, scenario] of SCENARIOS) {
  if (only !== undefined && !only.has(name)) continue
  let outcome: Outcome
  try {
    outcome = await scenario(level, seed)
  } catch (err) {
    outcome = { scenario: name, line: `${name}: CRASHED: ${(err as Error).stack ?? String(err)}`, figures: {}, failures: [String(err)], failureCount: 1, seed, seconds: 0 }
  }
  outcomes.push(outcome)
  process.stdout.write(`${outcome.line}  [${outcome.seconds} s]\n`)
  for (const failure of outcome.failures) process.stdout.write(`    FAILURE: ${failure}\n`)
  if (outcome.failureCount > outcome.failures.length) process.stdout.write(`    … and ${outcome.failureCount - outcome.failures.length} more\n`)
}
const failed = outcomes.reduce((n, o) => n + o.failureCount, 0)
const seconds = Math.round((Date.now() - started) / 1000)
process.stdout.write(`${failed === 0 ? 'all scenarios passed' : `${failed} failures`} in ${seconds} s (rerun with --seed ${seed})\n`)
// A partial run (--only) updates its scenarios in the results file and keeps the others.
let previous: { scenarios?: Outcome[] } = {}
try {
  previous = JSON.parse(fs.readFileSync(out, 'utf8')) as { scenarios?: Outcome[] }
} catch {
  previous = {}
}
const kept = (previous.scenarios ?? []).filter((o) => !outcomes.some((n) => n.scenario === o.scenario))
const results = {
  date: new Date().toISOString(),
  level,
  seed,
  machine: { cpu, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, os: `${os.platform()} ${os.release()}` },
  seconds,
  scenarios: [...kept, ...outcomes]
    .map((o) => ({ ...o, level: (o as Outcome & { level?: Level }).level ?? level }))
    .sort((a, b) => SCENARIOS.findIndex(([n]) => n === a.scenario) - SCENARIOS.findIndex(([n]) => n === b.scenario)),
}
// With --only, `seconds` is this run's; this is the scenarios' total, whichever runs they come from.
Object.assign(results, { scenarioSeconds: Math.round(results.scenarios.reduce((t, o) => t + o.seconds, 0)) })
fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n')
process.exitCode = failed === 0 ? 0 : 1
