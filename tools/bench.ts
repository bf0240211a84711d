/**
 * `seglog bench [--quick] [--scenario NAME] [--out DIR] [--no-peers]`: the benchmark suite
 * (bench/run.ts, built to dist/bench/run.js), run in a child process with the same arguments.
 * Only in a source checkout: the published package does not ship the benchmark.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { action, CliError } from './cli.js'

const RUN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'run.js')

export function register(program: Command): void {
  program
    .command('bench')
    .description('run the benchmark suite (seglog beside raw-disk baselines and peers); writes bench/results/latest.{json,md,svg}')
    .option('--quick', 'small data and short loops (under 2 minutes)')
    .option('--scenario <names>', 'run only these scenarios (comma-separated)')
    .option('--out <dir>', 'where to write latest.json, latest.md and latest.svg')
    .option('--no-peers', 'skip SQLite, NATS and Redis')
    .action(
      action('bench', async (options: { quick?: boolean; scenario?: string; out?: string; peers?: boolean }) => {
        if (!fs.existsSync(RUN)) throw new CliError(`the benchmark is not built (${RUN} is missing); run it from a source checkout after 'npm run build'`)
        const args = [RUN]
        if (options.quick === true) args.push('--quick')
        if (options.scenario !== undefined) args.push('--scenario', options.scenario)
        if (options.out !== undefined) args.push('--out', options.out)
        if (options.peers === false) args.push('--no-peers')
        const child = spawn(process.execPath, args, { stdio: 'inherit' })
        return new Promise<number>((resolve, reject) => {
          child.once('error', reject)
          child.once('exit', (code) => resolve(code ?? 2))
        })
      }),
    )
}
