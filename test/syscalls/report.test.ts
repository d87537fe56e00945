import assert from "node:assert/strict";
import { test } from "node:test";
import { configLabel, resolveModelConfig } from "../../src/syscalls/config.ts";
import { formatSeconds } from "../../src/syscalls/report.ts";

test("seconds are shown for people, not as raw floats", () => {
  assert.equal(formatSeconds(0.03106), "0.03 s");
  assert.equal(formatSeconds(12.345), "12.3 s");
  assert.equal(formatSeconds(185.2), "3 min 05 s");
  assert.equal(formatSeconds(null), "n/a");
});

test("configuration labels name every varied setting in full", () => {
  const config = resolveModelConfig({ signals: ["ngram", "repertoire"], ngramOrder: 6 });
  assert.equal(configLabel(config, ["signals", "ngramOrder"]), "signals=ngram+repertoire n=6");
  assert.equal(configLabel(config, []), "default");
});
