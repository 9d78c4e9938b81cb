/** The messages phase: a message's round trip to a waiting runner, against a plain request. */
import { now, storedLine } from "../lines.ts";
import { Deadline, sleep, type Phase } from "./shared.ts";

/** `POST /messages` → a waiting `GET /inputs` returns; against the plain request (`GET /` of the run). */
export const messages: Phase = async (ctx) => {
  const { t, sizes } = ctx;
  const dl = new Deadline(60_000 + sizes.messages * 3_000, "message round trips");
  const run = t.newRun("messages");
  await t.append(run, [storedLine(0)]);
  const plain: number[] = [];
  for (let i = -5; i < sizes.messages; i++) {
    dl.check();
    const t0 = now();
    await t.info(run);
    if (i >= 0) plain.push(now() - t0);
  }
  const rtt: number[] = [];
  let after = 0;
  for (let i = -3; i < sizes.messages; i++) {
    dl.check();
    const poll = t.poll(run, after, 10);
    // Only once the long-poll is waiting in the object does the clock start.
    const waitDl = Date.now() + 5_000;
    while ((await t.info(run)).waiting < 1) {
      if (Date.now() > waitDl) throw new Error("the long-poll was not waiting after 5 s");
      await sleep(2);
    }
    const t0 = now();
    const posted = t.message(run, `bench message ${i}`);
    const got = await poll;
    const t1 = now();
    const id = await posted;
    if (got !== id) throw new Error(`the long-poll returned input ${got}, not ${id}`);
    if (i >= 0) rtt.push(t1 - t0);
    after = id;
  }
  // Let the last input be acknowledged, so nothing waits on in the object.
  await t.poll(run, after, 0);
  return { values: {}, samples: { "msg.rtt": rtt, plain } };
};
