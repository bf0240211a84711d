import { expect, it } from 'vitest'
import { exclusion } from './exclusion.js'
import { seedFromEnv } from './support.js'

it('exclusion: of two racing writer processes exactly one wins, the log stays whole, and verify/dump beside a writer never disturb it', async () => {
  const outcome = await exclusion('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
  expect(outcome.figures.oneWinner).toBe(40)
})
