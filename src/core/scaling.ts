/**
 * Per-column standardisation with scikit-learn's StandardScaler semantics: subtract the mean, divide by the
 * population standard deviation; a constant column keeps scale 1 so it maps to 0 instead of NaN.
 */
import { InputError, ModelFileError } from "./errors.ts";

export interface ScalerJSON {
  mean: number[];
  scale: number[];
}

export class StandardScaler {
  private mean: Float64Array | undefined;
  private scale: Float64Array | undefined;

  /** Learns the column means and scales. Every row must have the same number of finite values. */
  fit(rows: ArrayLike<number>[]): this {
    if (rows.length === 0) throw new InputError("cannot fit a scaler on zero rows");
    const columns = rows[0].length;
    if (columns === 0) throw new InputError("cannot fit a scaler on rows without columns");
    const mean = new Float64Array(columns);
    rows.forEach((row, r) => {
      checkRow(row, r, columns);
      for (let c = 0; c < columns; c++) mean[c] += row[c];
    });
    for (let c = 0; c < columns; c++) mean[c] /= rows.length;
    // Two passes (mean, then squared deviations) avoid the cancellation of E[x²] − E[x]² on large offsets.
    const variance = new Float64Array(columns);
    for (const row of rows) {
      for (let c = 0; c < columns; c++) variance[c] += (row[c] - mean[c]) ** 2;
    }
    const scale = new Float64Array(columns);
    for (let c = 0; c < columns; c++) {
      variance[c] /= rows.length;
      scale[c] = isConstant(variance[c], mean[c], rows.length) ? 1 : Math.sqrt(variance[c]);
    }
    this.mean = mean;
    this.scale = scale;
    return this;
  }

  /** Returns new Float64Array rows (typed, so the models downstream read them without conversion). */
  transform(rows: ArrayLike<number>[]): Float64Array[] {
    return rows.map((row, r) => this.scaleRow(row, r));
  }

  /** One row; an error names the column only, the caller knows which row it passed. */
  transformRow(row: ArrayLike<number>): Float64Array {
    return this.scaleRow(row, undefined);
  }

  fitTransform(rows: ArrayLike<number>[]): Float64Array[] {
    return this.fit(rows).transform(rows);
  }

  toJSON(): ScalerJSON {
    const { mean, scale } = this.fitted();
    return { mean: Array.from(mean), scale: Array.from(scale) };
  }

  /** Rebuilds a fitted scaler from `toJSON()` output; `file` only locates the error message. */
  static fromJSON(obj: unknown, file?: string): StandardScaler {
    const fail = (message: string): never => {
      throw new ModelFileError(`scaler: ${message}`, { file });
    };
    if (typeof obj !== "object" || obj === null) return fail("expected an object with mean and scale arrays");
    const { mean, scale } = obj as Record<string, unknown>;
    if (!Array.isArray(mean) || !Array.isArray(scale)) return fail("mean and scale must be arrays");
    if (mean.length === 0) return fail("mean is empty");
    if (mean.length !== scale.length) {
      return fail(`mean has ${mean.length} values but scale has ${scale.length}`);
    }
    mean.forEach((m, i) => {
      if (typeof m !== "number" || !Number.isFinite(m))
        fail(`mean[${i}] is ${String(m)}, not a finite number`);
    });
    scale.forEach((s, i) => {
      if (typeof s !== "number" || !Number.isFinite(s) || s <= 0) {
        fail(`scale[${i}] is ${String(s)}, not a finite positive number`);
      }
    });
    const scaler = new StandardScaler();
    scaler.mean = Float64Array.from(mean as number[]);
    scaler.scale = Float64Array.from(scale as number[]);
    return scaler;
  }

  private scaleRow(row: ArrayLike<number>, r: number | undefined): Float64Array {
    const { mean, scale } = this.fitted();
    checkRow(row, r, mean.length);
    const out = new Float64Array(mean.length);
    for (let c = 0; c < mean.length; c++) out[c] = (row[c] - mean[c]) / scale[c];
    return out;
  }

  private fitted(): { mean: Float64Array; scale: Float64Array } {
    if (!this.mean || !this.scale) throw new Error("StandardScaler used before fit() or fromJSON()");
    return { mean: this.mean, scale: this.scale };
  }
}

function checkRow(row: ArrayLike<number>, r: number | undefined, columns: number): void {
  const where = r === undefined ? "row" : `row ${r}`;
  if (row.length !== columns) {
    throw new InputError(`${where} has ${row.length} values, expected ${columns}`);
  }
  for (let c = 0; c < columns; c++) {
    if (!Number.isFinite(row[c]))
      throw new InputError(`${where}, column ${c}: value ${row[c]} is not finite`);
  }
}

/** sklearn's _is_constant_feature: a variance within rounding error of 0 for this mean and sample count. */
function isConstant(variance: number, mean: number, n: number): boolean {
  const eps = Number.EPSILON;
  return variance <= n * eps * variance + (n * mean * eps) ** 2;
}
