/**
 * A node:test reporter for logs (CI, pipes): one line per test file, every failure with its location and error, and
 * the runner's summary lines (`# tests`, `# pass`, `# fail`, …) at the end. `npm run test:tap` keeps the full TAP.
 */
import { relative } from "node:path";

export default async function* summaryReporter(source) {
  const failures = [];
  for await (const event of source) {
    const { type, data } = event;
    if (type === "test:fail") {
      const error = data.details?.error;
      if (error?.failureType === "subtestsFailed") {
        // The failing subtests are listed themselves.
        if (data.nesting === 0) yield `not ok ${label(data)}\n`;
        continue;
      }
      const cause = error?.cause ?? error;
      failures.push(
        `not ok ${data.name}${data.file ? ` (${relative(process.cwd(), data.file)}:${data.line ?? "?"})` : ""}\n` +
          indent(String(cause?.message ?? cause ?? "failed")),
      );
      if (data.nesting === 0) yield `not ok ${label(data)}\n`;
    } else if (type === "test:pass" && data.nesting === 0) {
      yield `ok ${label(data)}${data.skip ? ` # SKIP ${data.skip === true ? "" : data.skip}` : ""}\n`;
    } else if (type === "test:diagnostic" && data.nesting === 0) {
      yield `# ${data.message}\n`;
    } else if (type === "test:stderr" || type === "test:stdout") {
      // Output of test files is noise in a summary, except when a file fails to load (reported as a failure anyway).
    }
  }
  if (failures.length > 0) yield `\n${failures.length} failure(s):\n${failures.join("\n")}\n`;
}

function label(data) {
  const seconds =
    data.details?.duration_ms !== undefined ? ` (${(data.details.duration_ms / 1000).toFixed(1)} s)` : "";
  const name = data.file ? relative(process.cwd(), data.file) : data.name;
  return `${name === data.name ? name : `${name}: ${data.name}`}${seconds}`;
}

function indent(text) {
  return text
    .split("\n")
    .slice(0, 30)
    .map((l) => `    ${l}`)
    .join("\n");
}
