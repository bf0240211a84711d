import { expect, it } from 'vitest'
import { sigkill } from './sigkill.js'
import { seedFromEnv } from './support.js'

it('SIGKILL loop: every acknowledged record survives, in order, without gaps or duplicates, and verify is clean', async () => {
  const outcome = await sigkill('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
  expect(outcome.figures.kills).toBeGreaterThanOrEqual(10)
})
