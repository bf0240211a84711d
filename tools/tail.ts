/**
 * `seglog tail DIR TOPIC`: `seglog consume --follow`, with the same options (see consume.ts).
 */
import type { Command } from 'commander'
import { registerConsume } from './consume.js'

export function register(program: Command): void {
  registerConsume(program, 'tail', true)
}
