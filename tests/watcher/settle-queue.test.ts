import { describe, expect, test } from "bun:test";
import { type SettledPath, SettleQueue } from "../../src/watcher/settle-queue.ts";
import { ManualTimers } from "./watch-harness.ts";

function setup(settleMs = 15, maxSettleMs = 200) {
  const timers = new ManualTimers();
  const batches: { at: number; paths: SettledPath[] }[] = [];
  const queue = new SettleQueue({
    settleMs,
    maxSettleMs,
    timers,
    onSettled: (paths) => batches.push({ at: timers.now(), paths }),
  });
  return { timers, batches, queue };
}

describe("SettleQueue", () => {
  test("a single touch settles settleMs later, not before", () => {
    const { timers, batches, queue } = setup();
    queue.touch("a.txt", false);
    timers.advance(13);
    expect(batches).toHaveLength(0);
    timers.advance(2);
    expect(batches).toEqual([{ at: 15, paths: [{ path: "a.txt", isDirHint: false }] }]);
    expect(queue.size).toBe(0);
    expect(timers.armed).toBe(0);
  });

  test("touches closer than settleMs coalesce into one report after the last one", () => {
    const { timers, batches, queue } = setup();
    for (let i = 0; i < 10; i++) {
      queue.touch("slow.bin");
      timers.advance(5);
    }
    // last touch at t=45; reported at 60
    timers.advance(9);
    expect(batches).toHaveLength(0);
    timers.advance(1);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.at).toBe(60);
  });

  test("a continuous writer is reported at maxSettleMs after its first touch", () => {
    const { timers, batches, queue } = setup(15, 100);
    for (let t = 0; t < 290; t += 5) {
      queue.touch("log.txt");
      timers.advance(5);
    }
    expect(batches.map((b) => b.at)).toEqual([100, 200]);
    // the writer stopped at t=285: the tail settles 15 ms later
    timers.advance(10);
    expect(batches.map((b) => b.at)).toEqual([100, 200, 300]);
  });

  test("paths due at the same time share a batch; later ones come in a later batch", () => {
    const { timers, batches, queue } = setup();
    queue.touch("a");
    queue.touch("b", true);
    timers.advance(10);
    queue.touch("c");
    timers.advance(30);
    expect(batches.map((b) => b.paths.map((p) => p.path))).toEqual([["a", "b"], ["c"]]);
    expect(batches[0]!.paths[1]).toEqual({ path: "b", isDirHint: true });
  });

  test("the last defined type hint wins", () => {
    const { timers, batches, queue } = setup();
    queue.touch("x", false);
    queue.touch("x", true);
    queue.touch("x", undefined);
    timers.advance(15);
    expect(batches[0]!.paths).toEqual([{ path: "x", isDirHint: true }]);
  });

  test("a path touched again after it settled is reported again", () => {
    const { timers, batches, queue } = setup();
    queue.touch("a");
    timers.advance(20);
    queue.touch("a");
    timers.advance(20);
    expect(batches.map((b) => b.at)).toEqual([15, 35]);
  });

  test("clear drops pending paths and disarms the timer", () => {
    const { timers, batches, queue } = setup();
    queue.touch("a");
    queue.touch("b");
    queue.clear();
    expect(timers.armed).toBe(0);
    timers.advance(1000);
    expect(batches).toHaveLength(0);
  });
});
