import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { randomInt, seededRandom } from "../../../src/core/random.ts";
import { LiveCapture, TcpdumpStderr } from "../../../src/network/live/tcpdump.ts";

/** tcpdump as a child process: what it says on stderr, and how it fails. */

// Real tcpdump 4.99 output: the start line, a SIGUSR1 summary, and the exit summary.
const STDERR = [
  "tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 256 bytes",
  "tcpdump: 1520 packets captured, 1604 packets received by filter, 12 packets dropped by kernel",
  "1700 packets captured",
  "1790 packets received by filter",
  "31 packets dropped by kernel",
  "",
].join("\n");

describe("TcpdumpStderr", () => {
  test("reads the start line, the SIGUSR1 summary and the exit counts", () => {
    const parsed = new TcpdumpStderr();
    let listening = 0;
    parsed.write(STDERR.slice(0, 40), () => listening++);
    assert.equal(parsed.listening, false);
    parsed.write(STDERR.slice(40, 175), () => listening++);
    assert.equal(parsed.listening, true);
    assert.deepEqual(parsed.counts(), { captured: 1520, dropped: 12 });
    parsed.write(STDERR.slice(175));
    assert.deepEqual(parsed.counts(), { captured: 1700, dropped: 31 });
    assert.deepEqual(parsed.errors, []);
    assert.ok(listening >= 1);
  });

  test("interface drops add to kernel drops; singular 'packet'; other lines are errors", () => {
    const parsed = new TcpdumpStderr();
    parsed.write(
      "1 packet captured\n1 packet received by filter\n0 packets dropped by kernel\n4 packets dropped by interface\n",
    );
    assert.deepEqual(parsed.counts(), { captured: 1, dropped: 4 });
    parsed.write("tcpdump: eth9: No such device exists\n(No such device exists)\n");
    assert.deepEqual(parsed.errors, ["tcpdump: eth9: No such device exists", "(No such device exists)"]);
  });

  test("property: any chunking gives the same result; garbage never throws or counts", () => {
    const reference = new TcpdumpStderr();
    reference.write(STDERR);
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const parsed = new TcpdumpStderr();
      for (let i = 0; i < STDERR.length; ) {
        const n = 1 + randomInt(random, 30);
        parsed.write(STDERR.slice(i, i + n));
        i += n;
      }
      assert.deepEqual(parsed.counts(), reference.counts(), `seed ${seed}`);
      const noise = new TcpdumpStderr();
      const alphabet = "0123456789 packetsdropbykernlfiturc,:\n\r\t-é";
      let text = "";
      for (let i = 0; i < 400; i++) text += alphabet[randomInt(random, alphabet.length)];
      noise.write(text);
      const { captured, dropped } = noise.counts();
      assert.ok(Number.isFinite(captured) && Number.isFinite(dropped));
    }
  });
});

const hasTcpdump = spawnSync("tcpdump", ["--version"]).status === 0;
const isRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync("setpriv", ["--version"]).status === 0;

describe("LiveCapture", () => {
  test("a missing tcpdump is a usage error that says what to install", async () => {
    const capture = new LiveCapture({ interface: "lo", tcpdump: "/nonexistent/tcpdump" });
    await assert.rejects(capture.done, (e: Error) => {
      assert.equal(e.name, "UsageError");
      assert.match(e.message, /tcpdump is not installed.*apt-get install tcpdump/);
      return true;
    });
  });

  test("an interface that does not exist: tcpdump's own reason, naming the interface", {
    skip: hasTcpdump ? false : "tcpdump is not installed",
  }, async () => {
    const capture = new LiveCapture({ interface: "tl-no-such0" });
    await assert.rejects(capture.done, /tl-no-such0.*(No such device|doesn't exist|permission)/i);
  });

  test("not root: the error says to run as root or grant CAP_NET_RAW", {
    skip: !hasTcpdump
      ? "tcpdump is not installed"
      : !isRoot
        ? "needs root to drop privileges"
        : !hasSetpriv
          ? "setpriv (util-linux) is not installed"
          : false,
  }, async () => {
    // tcpdump run as nobody through setpriv (util-linux): the real permission failure, not a simulated one.
    const capture = new LiveCapture({
      interface: "lo",
      via: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
    });
    await assert.rejects(capture.done, /run as root or give tcpdump CAP_NET_RAW/);
  });
});
