/**
 * Synthetic labelled captures for the detector's tests: "benign" ones hold complete TCP sessions with data both
 * ways and DNS exchanges; "malicious" ones hold SYN scans (one SYN per port, often answered by a RST) and a few
 * sessions, so the classes overlap a little as real per-file labels do. Seeded, so every run writes the same bytes.
 */
import { randomInt, seededRandom } from "../../../src/core/random.ts";
import { pcapFile, type TestPacket } from "./captures.ts";
import { ethernet, ipv4, TCP_FLAGS, tcp, udp } from "./packets.ts";

const { SYN, ACK, RST, PSH, FIN } = TCP_FLAGS;

class Timeline {
  readonly packets: TestPacket[] = [];
  constructor(private usec: number) {}
  add(gapUsec: number, data: number[]): void {
    this.usec += gapUsec;
    this.packets.push({ sec: Math.floor(this.usec / 1e6), nsec: (this.usec % 1e6) * 1000, data });
  }
}

function tcpPacket(
  src: string,
  dst: string,
  sport: number,
  dport: number,
  flags: number,
  payload: number[] = [],
) {
  return ethernet(0x0800, ipv4({ src, dst, protocol: 6, payload: tcp({ sport, dport, flags, payload }) }));
}

function session(t: Timeline, random: () => number, client: string, server: string, sport: number): void {
  const dport = [80, 443, 22][randomInt(random, 3)];
  const rtt = 2000 + randomInt(random, 20000);
  t.add(1000, tcpPacket(client, server, sport, dport, SYN));
  t.add(rtt, tcpPacket(server, client, dport, sport, SYN | ACK));
  t.add(rtt, tcpPacket(client, server, sport, dport, ACK));
  const exchanges = 3 + randomInt(random, 8);
  for (let i = 0; i < exchanges; i++) {
    const request = new Array(100 + randomInt(random, 300)).fill(0x41);
    const response = new Array(500 + randomInt(random, 900)).fill(0x42);
    t.add(5000 + randomInt(random, 50000), tcpPacket(client, server, sport, dport, PSH | ACK, request));
    t.add(rtt, tcpPacket(server, client, dport, sport, PSH | ACK, response));
    t.add(rtt, tcpPacket(client, server, sport, dport, ACK));
  }
  t.add(1000, tcpPacket(client, server, sport, dport, FIN | ACK));
  t.add(rtt, tcpPacket(server, client, dport, sport, FIN | ACK));
  t.add(rtt, tcpPacket(client, server, sport, dport, ACK));
}

function dns(t: Timeline, random: () => number, client: string, sport: number): void {
  const query = new Array(30 + randomInt(random, 20)).fill(1);
  const answer = new Array(60 + randomInt(random, 200)).fill(2);
  t.add(
    3000,
    ethernet(0x0800, ipv4({ src: client, dst: "10.0.0.53", protocol: 17, payload: udp(sport, 53, query) })),
  );
  t.add(
    1000 + randomInt(random, 9000),
    ethernet(0x0800, ipv4({ src: "10.0.0.53", dst: client, protocol: 17, payload: udp(53, sport, answer) })),
  );
}

export function benignCapture(seed: number): Buffer {
  const random = seededRandom(seed);
  const t = new Timeline(1_700_000_000_000_000 / 1000 + seed * 1_000_000);
  const client = `10.1.${seed % 200}.${1 + randomInt(random, 200)}`;
  for (let i = 0; i < 12; i++) {
    if (random() < 0.6) session(t, random, client, `93.184.${randomInt(random, 200)}.${1 + i}`, 40000 + i);
    else dns(t, random, client, 50000 + i);
  }
  return pcapFile(t.packets);
}

export function maliciousCapture(seed: number): Buffer {
  const random = seededRandom(seed);
  const t = new Timeline(1_700_000_000_000_000 / 1000 + seed * 1_000_000);
  const attacker = `172.16.${seed % 200}.${1 + randomInt(random, 200)}`;
  const target = `10.2.0.${1 + randomInt(random, 200)}`;
  const ports = 30 + randomInt(random, 30);
  for (let i = 0; i < ports; i++) {
    const sport = 33000 + randomInt(random, 20000);
    const dport = 1 + randomInt(random, 1024);
    t.add(100 + randomInt(random, 400), tcpPacket(attacker, target, sport, dport, SYN));
    if (random() < 0.7) t.add(50, tcpPacket(target, attacker, dport, sport, RST | ACK));
  }
  session(t, random, attacker, target, 45000);
  return pcapFile(t.packets);
}
