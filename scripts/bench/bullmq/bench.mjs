// The BullMQ-on-Redis peer of `conveyor bench sqs`: the same full cycle (produce in batches of
// 10, consume, remove) measured with BullMQ's own client, in the same run as Conveyor.
//
// Usage: node bench.mjs REDIS_PORT CLIENTS MESSAGES BODY_BYTES
import { Queue, Worker } from 'bullmq';

const [port, clients, messages, bodyBytes] = process.argv.slice(2).map(Number);
const connection = { host: '127.0.0.1', port };
const name = `conveyor-bench-${process.pid}-${Date.now()}`;
const queue = new Queue(name, { connection });
const body = 'x'.repeat(bodyBytes);

let processed = 0;
let resolveDone;
const done = new Promise((resolve) => (resolveDone = resolve));
const started = performance.now();

// As many consumers as the SQS benchmark has, each holding up to 10 messages at once.
const workers = Array.from({ length: clients }, () => {
  const worker = new Worker(name, async () => {}, { connection, concurrency: 10 });
  worker.on('completed', () => {
    processed += 1;
    if (processed === messages) resolveDone();
  });
  return worker;
});

let remaining = messages;
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (remaining > 0) {
      const n = Math.min(10, remaining);
      remaining -= n;
      await queue.addBulk(
        Array.from({ length: n }, () => ({ name: 'm', data: body, opts: { removeOnComplete: true } })),
      );
    }
  }),
);
await done;
const seconds = (performance.now() - started) / 1000;
console.log(
  `endpoint=bullmq+redis clients=${clients} batch=10 body_bytes=${bodyBytes} messages=${processed} seconds=${seconds.toFixed(2)} full_cycle_msg_per_s=${Math.round(processed / seconds)}`,
);
await Promise.all(workers.map((w) => w.close()));
await queue.obliterate({ force: true });
await queue.close();
