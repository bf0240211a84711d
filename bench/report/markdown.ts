/** `latest.md`: the machine, the targets met and missed, and every row of every scenario. */
import type { Row, RunResult, ScenarioResult } from '../lib/result.js'
import { formatBytesPerSec, formatCount, formatMs } from '../lib/stats.js'
import { formatMetric, metricOf } from './format.js'

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

function latency(row: Row): string {
  const l = row.latencyMs
  return l === undefined ? '' : `${formatMs(l.p50)} / ${formatMs(l.p99)} / ${formatMs(l.p999)}`
}

function extra(row: Row): string {
  const e = row.extra
  if (e === undefined) return ''
  return Object.entries(e)
    .map(([k, v]) => `${k} ${k.endsWith('Bytes') ? (v < 2 ** 20 ? `${v} B` : `${(v / 2 ** 20).toFixed(1)} MiB`) : k.endsWith('ms') || k.endsWith('Ms') ? formatMs(v) : Number.isInteger(v) ? String(v) : v.toFixed(1)}`)
    .join(', ')
}

function rowLine(s: ScenarioResult, row: Row, lead: Row | undefined): string {
  if (row.status !== 'ok') return `| ${row.system} | ${cell(row.label)} | ${cell(row.durability)} | skipped: ${cell(row.reason ?? '')} | | | | |`
  const mine = metricOf(row, s.metric)
  const leadValue = lead === undefined ? undefined : metricOf(lead, s.metric)
  let ratio = ''
  // Micro-benchmark rows are separate measurements, not one workload beside its baselines.
  if (s.name !== 'micro' && row !== lead && mine !== undefined && leadValue !== undefined && mine > 0 && row.role !== 'seglog') {
    ratio = s.metric === 'ms' ? `seglog ${(leadValue / mine).toFixed(2)} × this` : `seglog = ${(leadValue / mine).toFixed(2)} ×`
  }
  const main = mine === undefined ? '' : formatMetric(mine, s.metric)
  const rates = [row.bytesPerSec === undefined || s.metric === 'bytesPerSec' ? '' : formatBytesPerSec(row.bytesPerSec), row.recordsPerSec === undefined || s.metric === 'recordsPerSec' ? '' : `${formatCount(row.recordsPerSec)} rec/s`]
    .filter((x) => x !== '')
    .join(', ')
  return `| ${row.system} | ${cell(row.label)} | ${cell(row.durability)} | **${main}** ${rates === '' ? '' : `(${rates})`} | ${latency(row)} | ${ratio} | ${cell(extra(row))} |`
}

export function markdown(run: RunResult): string {
  const m = run.machine
  const out: string[] = []
  out.push(`# seglog benchmark results`, '')
  out.push(`${run.quick ? 'Quick run (`--quick`: smaller data, shorter loops)' : 'Full run'} of ${run.startedAt}, ${run.seconds.toFixed(0)} s in all. Each scenario ran in its own process, beside its baselines and peers.`, '')
  out.push(`- **machine**: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; 1-minute load average ${m.loadAverage1m} when the run started`)
  out.push(`- **disk**: ${m.disk}, data in \`${m.dir}\``)
  out.push(`- **node**: ${m.node}; CRC-32C: ${m.crc32c}`)
  out.push(`- **fsync**: ${m.fsyncModes}`)
  out.push(`- **peers**: ${Object.entries(m.peers).map(([k, v]) => `${k} ${v}`).join('; ') || 'none found'}`, '')
  out.push('## Targets (issue 5), checked against the same run', '')
  out.push('| scenario | target | actual | met |', '|---|---|---|---|')
  for (const s of run.scenarios) {
    if (s.status !== 'ok') {
      out.push(`| ${s.name} | | ${s.status}: ${cell(s.reason ?? '')} | — |`)
      continue
    }
    for (const t of s.targets) out.push(`| ${s.name} | ${cell(t.target)} | ${cell(t.actual)} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`)
  }
  out.push('')
  out.push('## Scenarios', '')
  out.push('Latency is p50 / p99 / p99.9. "seglog = N ×" compares the scenario\'s first seglog row (in batch-sweep: the same batch size\'s) with that row.', '')
  for (const s of run.scenarios) {
    out.push(`### ${s.name}`, '', `${s.workload}. ${s.status === 'ok' ? `${s.seconds.toFixed(0)} s, peak RSS ${(s.peakRssBytes / 2 ** 20).toFixed(0)} MiB, load average ${s.loadAverage1m} at its start.` : `**${s.status}**: ${s.reason ?? ''}`}`, '')
    if (s.rows.length > 0) {
      const first = s.rows.find((r) => r.role === 'seglog' && r.status === 'ok')
      out.push('| system | what | durability | throughput | latency | vs seglog | other |', '|---|---|---|---|---|---|---|')
      // batch-sweep pairs each size's seglog row with the raw row after it; elsewhere the first seglog row leads.
      let lead = first
      for (const row of s.rows) {
        if (s.name === 'batch-sweep' && row.role === 'seglog' && row.status === 'ok') lead = row
        out.push(rowLine(s, row, lead))
      }
      out.push('')
    }
    for (const note of s.notes) out.push(`- ${note}`)
    if (s.notes.length > 0) out.push('')
  }
  return out.join('\n')
}
