import { expect, it } from 'vitest'
import { consumerKills } from './consumer-kills.js'
import { seedFromEnv } from './support.js'

it('consumer offsets under kills: committed offsets never go backwards or past the log, stores stay whole, nothing is lost', async () => {
  const outcome = await consumerKills('test', seedFromEnv())
  console.log(outcome.line, `(seed ${outcome.seed})`)
  expect(outcome.failures, outcome.line).toEqual([])
  expect(outcome.figures.kills).toBeGreaterThanOrEqual(6)
})
