/** Every scenario, in the order the suite runs them. */
import type { Scenario } from '../lib/scenario.js'
import { micro } from '../micro.js'
import { append100b, append1k } from './append.js'
import { compaction } from './compaction.js'
import { batchSweep, fsyncEach, groupCommit } from './durable.js'
import { endToEnd } from './end-to-end.js'
import { randomRead, replayScenario } from './read.js'
import { recoveryScenario } from './recovery.js'

export const SCENARIOS: readonly Scenario[] = [
  micro,
  append1k,
  append100b,
  fsyncEach,
  groupCommit,
  batchSweep,
  replayScenario,
  randomRead,
  endToEnd,
  recoveryScenario,
  compaction,
]

export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name)
}
