/** What a scenario is given and gives back (see scenario.ts, which runs one in its own process). */
import type { Metric, Row, TargetCheck } from './result.js'
import { skippedRow, type Role, type System } from './result.js'

export interface ScenarioContext {
  quick: boolean
  /** An empty folder for this scenario's files, removed afterwards. */
  dir: string
  /** Run no peers (they are reported as skipped). */
  noPeers: boolean
  /** Progress on stderr. */
  log(message: string): void
}

export interface ScenarioOutput {
  rows: Row[]
  targets: TargetCheck[]
  notes: string[]
  /** Set when the whole scenario could not run (compaction before it exists). */
  skipped?: string
}

export interface Scenario {
  name: string
  workload: string
  metric: Metric
  run(ctx: ScenarioContext): Promise<ScenarioOutput>
}

/**
 * Run a peer's measurement; a peer that cannot start or fails is a skipped row with the reason,
 * never a failed run.
 */
export async function peerRow(ctx: ScenarioContext, system: System, label: string, durability: string, measure: () => Promise<Row>): Promise<Row> {
  const role: Role = 'peer'
  if (ctx.noPeers) return skippedRow(system, role, label, durability, 'peers disabled (--no-peers)')
  try {
    ctx.log(`  ${system}: ${label} (${durability})`)
    return await measure()
  } catch (err) {
    const message = (err as Error).message?.split('\n')[0] ?? String(err)
    ctx.log(`  ${system} skipped: ${message}`)
    return skippedRow(system, role, label, durability, message)
  }
}

/** A target check: `met` is null when either side is missing (a skipped peer). */
export function ratioTarget(target: string, value: number | undefined, reference: number | undefined, factor: number, describe: (v: number, r: number) => string): TargetCheck {
  if (value === undefined || reference === undefined || !Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) {
    return { target, actual: 'not measured (a side was skipped)', met: null }
  }
  return { target, actual: describe(value, reference), met: value >= factor * reference }
}

export function atMostTarget(target: string, value: number | undefined, limit: number, describe: (v: number) => string): TargetCheck {
  if (value === undefined || !Number.isFinite(value)) return { target, actual: 'not measured', met: null }
  return { target, actual: describe(value), met: value <= limit }
}

export function atLeastTarget(target: string, value: number | undefined, limit: number, describe: (v: number) => string): TargetCheck {
  if (value === undefined || !Number.isFinite(value)) return { target, actual: 'not measured', met: null }
  return { target, actual: describe(value), met: value >= limit }
}
