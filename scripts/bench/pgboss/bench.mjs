// The pg-boss-on-PostgreSQL peer of `conveyor bench sqs`: the same full cycle (produce in batches
// of 10, consume in batches of 10, complete) measured with pg-boss's own client, in the same run as
// Conveyor. PostgreSQL runs with its defaults (fsync on, synchronous_commit on), so every insert
// and every completion is a durable commit, as Conveyor's are.
//
// Usage: node bench.mjs POSTGRES_URL CLIENTS MESSAGES BODY_BYTES
import { PgBoss } from 'pg-boss';

const [url, ...numbers] = process.argv.slice(2);
const [clients, messages, bodyBytes] = numbers.map(Number);
// One connection per producer and per consumer, so no task waits for the pool.
const boss = new PgBoss({ connectionString: url, max: 2 * clients, schedule: false });
boss.on('error', (error) => console.error('pg-boss:', error.message));
await boss.start();
const name = `conveyor_bench_${process.pid}_${Date.now()}`;
await boss.createQueue(name);
const body = 'x'.repeat(bodyBytes);

let remaining = messages;
let processed = 0;
const started = performance.now();
const producers = Array.from({ length: clients }, async () => {
  while (remaining > 0) {
    const n = Math.min(10, remaining);
    remaining -= n;
    await boss.insert(name, Array.from({ length: n }, () => ({ data: { body } })));
  }
});
// SKIP LOCKED fetches; an empty answer waits 5 ms before asking again (pg-boss's own worker polls
// every 2 s by default, which would measure the poll interval rather than the database).
const consumers = Array.from({ length: clients }, async () => {
  while (processed < messages) {
    const jobs = await boss.fetch(name, { batchSize: 10 });
    if (jobs.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    await boss.complete(name, jobs.map((job) => job.id));
    processed += jobs.length;
  }
});
await Promise.all(producers);
await Promise.all(consumers);
const seconds = (performance.now() - started) / 1000;
console.log(
  `endpoint=pg-boss+postgresql clients=${clients} batch=10 body_bytes=${bodyBytes} messages=${processed} seconds=${seconds.toFixed(2)} full_cycle_msg_per_s=${Math.round(processed / seconds)}`,
);
await boss.deleteQueue(name);
await boss.stop({ graceful: false });
