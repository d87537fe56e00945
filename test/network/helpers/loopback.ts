/** Traffic on loopback for the live network tests: a port scan from 127.0.0.2, and where to aim it. */
import net from "node:net";

/** The first port from `from` where a server can listen, with the scan range after it mostly free. */
export async function freeBase(from: number): Promise<number> {
  for (let base = from; base < from + 5000; base += 500) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once("error", () => resolve(false));
      probe.listen(base, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (ok) return base;
  }
  throw new Error("no free port range on loopback");
}

export function scan(from: number, to: number): Promise<{ open: number; closed: number }> {
  let open = 0;
  let closed = 0;
  const one = (port: number) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" });
      s.once("connect", () => {
        open++;
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        closed++;
        resolve();
      });
    });
  return (async () => {
    for (let p = from; p <= to; p += 20) {
      await Promise.all(Array.from({ length: Math.min(20, to - p + 1) }, (_, i) => one(p + i)));
    }
    return { open, closed };
  })();
}
