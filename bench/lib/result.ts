/**
 * The shape of a benchmark result, as `bench/results/latest.json` stores it. One file per run:
 *
 *   { version, startedAt, quick, seconds, machine, scenarios: ScenarioResult[] }
 *
 * A scenario is rows (seglog, its raw-disk baselines, its peers) measured in one child process,
 * and target checks computed from those rows. Rates are per second, latencies in milliseconds.
 */
import type { Machine } from './machine.js'

export const RESULT_VERSION = 1

/** What produced a row: seglog itself, the raw disk, or a system a user would pick instead. */
export type Role = 'seglog' | 'baseline' | 'peer'
export type System = 'seglog' | 'raw' | 'sqlite' | 'nats' | 'redis'

/** Latency percentiles of one row, in milliseconds. */
export interface Latency {
  samples: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

export interface Row {
  system: System
  role: Role
  /** What exactly ran ("Partition.append, 64 × 1 KiB per batch"). */
  label: string
  /** The durability it ran with ("fsync 'never'", "synchronous=FULL", "appendfsync always"). */
  durability: string
  status: 'ok' | 'skipped'
  /** Why a row was skipped (a peer that could not start, a feature missing). */
  reason?: string
  seconds?: number
  records?: number
  bytes?: number
  ops?: number
  recordsPerSec?: number
  bytesPerSec?: number
  opsPerSec?: number
  latencyMs?: Latency
  /** Other figures (open time, peak RSS, …), named with their unit last. */
  extra?: Record<string, number>
}

/** One line of the target column, checked against the rows of the same run. */
export interface TargetCheck {
  target: string
  actual: string
  /** true met, false missed, null not measurable in this run (a peer skipped). */
  met: boolean | null
}

/** The figure a scenario is charted by. */
export type Metric = 'bytesPerSec' | 'recordsPerSec' | 'opsPerSec' | 'ms'

export interface ScenarioResult {
  name: string
  workload: string
  status: 'ok' | 'skipped' | 'failed'
  reason?: string
  metric: Metric
  seconds: number
  peakRssBytes: number
  /** The machine's 1-minute load average when the scenario started (other work skews figures). */
  loadAverage1m: number
  rows: Row[]
  targets: TargetCheck[]
  notes: string[]
}

export interface RunResult {
  version: number
  startedAt: string
  quick: boolean
  seconds: number
  machine: Machine
  scenarios: ScenarioResult[]
}

/** A row that ran, with its rates derived from its counts. */
export function okRow(fields: Omit<Row, 'status' | 'recordsPerSec' | 'bytesPerSec' | 'opsPerSec'> & { seconds: number }): Row {
  const row: Row = { ...fields, status: 'ok' }
  if (fields.records !== undefined) row.recordsPerSec = fields.records / fields.seconds
  if (fields.bytes !== undefined) row.bytesPerSec = fields.bytes / fields.seconds
  if (fields.ops !== undefined) row.opsPerSec = fields.ops / fields.seconds
  return row
}

export function skippedRow(system: System, role: Role, label: string, durability: string, reason: string): Row {
  return { system, role, label, durability, status: 'skipped', reason }
}
