import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { z } from "zod";
import {
  ARTIFACT_FORMAT,
  type ArtifactSpec,
  checksumOf,
  parseArtifact,
  readArtifact,
  serializeArtifact,
  writeArtifact,
} from "../../src/core/artifact.ts";
import { ModelFileError } from "../../src/core/errors.ts";

const schema = z.object({
  weights: z.array(z.number()),
  bias: z.number(),
  name: z.string(),
  nested: z.object({ threshold: z.number().min(0).max(1) }),
});
type Payload = z.infer<typeof schema>;
const SPEC: ArtifactSpec<Payload> = { kind: "toy", version: 2, schema };
const PAYLOAD: Payload = {
  weights: [0.1, -2.5e-300, 1e300, 0, 123456789.125],
  bias: -0.75,
  name: 'quote " comma , é',
  nested: { threshold: 0.5 },
};

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "threatlens-artifact-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` as a model file and expects readArtifact to refuse it with a message naming the file. */
async function assertRefused(name: string, text: string, pattern: RegExp): Promise<void> {
  const file = join(dir, name);
  await writeFile(file, text);
  await assert.rejects(readArtifact(file, SPEC), (error: unknown) => {
    assert.ok(error instanceof ModelFileError, `not a ModelFileError: ${error}`);
    assert.equal(error.location.file, file);
    assert.ok(error.message.startsWith(`${file}: `), error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

async function validEnvelope(): Promise<Record<string, unknown>> {
  return JSON.parse(serializeArtifact(SPEC, PAYLOAD));
}

describe("artifact round trip", () => {
  test("write then read gives the payload back, with exact floats", async () => {
    const file = join(dir, "model.json");
    await writeArtifact(file, SPEC, PAYLOAD);
    assert.deepEqual(await readArtifact(file, SPEC), PAYLOAD);
  });

  test("the envelope names format, kind, version, tool and checksum", async () => {
    const file = join(dir, "envelope.json");
    await writeArtifact(file, SPEC, PAYLOAD);
    const envelope = JSON.parse(await readFile(file, "utf8"));
    assert.equal(envelope.format, ARTIFACT_FORMAT);
    assert.equal(envelope.kind, "toy");
    assert.equal(envelope.version, 2);
    assert.equal(envelope.tool, "threatlens");
    assert.match(envelope.checksum, /^sha256:[0-9a-f]{64}$/);
    assert.equal(envelope.checksum, checksumOf(PAYLOAD));
    assert.ok(!Number.isNaN(Date.parse(envelope.createdAt)));
  });

  test("a reformatted (pretty-printed) file still reads: the checksum covers the payload values", async () => {
    await writeFile(join(dir, "pretty.json"), JSON.stringify(await validEnvelope(), null, 2));
    assert.deepEqual(await readArtifact(join(dir, "pretty.json"), SPEC), PAYLOAD);
  });

  test("the schema's output is returned (unknown keys stripped by zod)", () => {
    const payload = { ...PAYLOAD, extra: 1 };
    const text = serializeArtifact(SPEC as ArtifactSpec<unknown>, payload);
    assert.deepEqual(parseArtifact(text, SPEC, "m.json"), PAYLOAD);
  });
});

describe("artifact refusals", () => {
  test("missing file", async () => {
    const file = join(dir, "absent.json");
    await assert.rejects(readArtifact(file, SPEC), (error: unknown) => {
      assert.ok(error instanceof ModelFileError);
      assert.ok(error.message.startsWith(`${file}: cannot read the model file`), error.message);
      return true;
    });
  });

  test("empty file", async () => {
    await assertRefused("empty.json", "", /not a valid JSON model file \(the file is empty\)/);
  });

  test("truncated JSON, at every cut point", async () => {
    const text = serializeArtifact(SPEC, PAYLOAD);
    for (let cut = 1; cut < text.length; cut += 7) {
      assert.throws(
        () => parseArtifact(text.slice(0, cut), SPEC, "cut.json"),
        (error: unknown) =>
          error instanceof ModelFileError && /^cut\.json: .*truncated or corrupted/.test(error.message),
        `cut at ${cut}`,
      );
    }
    await assertRefused("truncated.json", text.slice(0, text.length - 5), /truncated or corrupted/);
  });

  test("valid JSON that is not a model file", async () => {
    for (const text of ["null", "42", '"x"', "[]", '{"format":"other"}', "{}"]) {
      await assertRefused("other.json", text, /not a threatlens model file/);
    }
  });

  test("wrong kind", async () => {
    const envelope = await validEnvelope();
    envelope.kind = "svm";
    await assertRefused(
      "kind.json",
      JSON.stringify(envelope),
      /this is a "svm" model; expected a "toy" model/,
    );
  });

  test("wrong version", async () => {
    const envelope = await validEnvelope();
    envelope.version = 3;
    await assertRefused(
      "version.json",
      JSON.stringify(envelope),
      /model file version 3 is not supported .*reads version 2.*retrain/,
    );
  });

  test("checksum mismatch after editing one payload value", async () => {
    const edits: ((p: Payload) => void)[] = [
      (p) => {
        p.weights[1] = 0;
      },
      (p) => {
        p.bias = -0.7500001;
      },
      (p) => {
        p.name = p.name.toUpperCase();
      },
      (p) => {
        p.nested.threshold = 0.6;
      },
    ];
    for (const edit of edits) {
      const envelope = await validEnvelope();
      edit(envelope.payload as Payload);
      await assertRefused("edited.json", JSON.stringify(envelope), /checksum mismatch/);
    }
  });

  test("missing or non-string checksum", async () => {
    const envelope = await validEnvelope();
    delete envelope.checksum;
    await assertRefused("nochecksum.json", JSON.stringify(envelope), /checksum mismatch/);
    envelope.checksum = 12;
    await assertRefused("numchecksum.json", JSON.stringify(envelope), /checksum mismatch/);
  });

  /** An envelope with a correct checksum around a payload the writer would refuse (a hand-made or foreign file). */
  function forgedEnvelope(payload: unknown): string {
    return JSON.stringify({
      format: "threatlens-model",
      kind: SPEC.kind,
      version: SPEC.version,
      createdAt: "2026-01-01T00:00:00.000Z",
      tool: "test",
      checksum: checksumOf(payload),
      payload,
    });
  }

  test("schema violation with a consistent checksum names the field", async () => {
    const envelope = await validEnvelope();
    const payload = envelope.payload as Payload;
    payload.nested.threshold = 2;
    envelope.checksum = checksumOf(payload);
    await assertRefused("schema.json", JSON.stringify(envelope), /invalid model: nested\.threshold: /);

    const wrongType = { ...PAYLOAD, weights: "no" };
    await assertRefused("schema2.json", forgedEnvelope(wrongType), /invalid model: weights: /);
  });

  test("a payload that is not an object is reported as `payload`", async () => {
    await assertRefused("scalar.json", forgedEnvelope(5), /invalid model: payload: /);
  });

  test("writing refuses an invalid payload (NaN would silently become null)", () => {
    assert.throws(
      () => serializeArtifact(SPEC as ArtifactSpec<unknown>, { ...PAYLOAD, weights: [Number.NaN] }),
      /refusing to write an invalid toy model: weights\.0/,
    );
  });
});
