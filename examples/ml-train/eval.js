// The judge: the data, the model family, the training budget and the
// validation loss. The training code imports it and may not change it.

/** The training budget: full passes over the training split. */
export const EPOCHS = 30;
const SEED = 20240611;

/** A small seeded generator (mulberry32) so data and runs are reproducible. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Two interleaved half-moons with noise: not linearly separable.
function makeData(n) {
  const rand = rng(SEED);
  const xs = [];
  const ys = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const angle = Math.PI * rand();
    const x = label ? 1 - Math.cos(angle) : Math.cos(angle);
    const y = label ? 0.5 - Math.sin(angle) : Math.sin(angle);
    xs.push([x + 0.9 * (rand() - 0.5), y + 0.9 * (rand() - 0.5)]);
    ys.push(label);
  }
  return { xs, ys };
}

const all = makeData(600);
/** The training split; the last 200 points are held out for validation. */
export const train = { xs: all.xs.slice(0, 400), ys: all.ys.slice(0, 400) };
const val = { xs: all.xs.slice(400), ys: all.ys.slice(400) };

/** The model family: one tanh hidden layer of any width, a sigmoid output. */
export function predict(model, x) {
  let z = model.b2;
  for (let j = 0; j < model.b1.length; j++) {
    z += model.w2[j] * Math.tanh(model.w1[j][0] * x[0] + model.w1[j][1] * x[1] + model.b1[j]);
  }
  return 1 / (1 + Math.exp(-z));
}

/** Mean binary cross-entropy of the model on the held-out split. */
export function validationLoss(model) {
  let sum = 0;
  for (let i = 0; i < val.xs.length; i++) {
    const p = Math.min(Math.max(predict(model, val.xs[i]), 1e-12), 1 - 1e-12);
    sum -= val.ys[i] ? Math.log(p) : Math.log(1 - p);
  }
  return sum / val.xs.length;
}

/** Print the validation loss (the line the metric source reads). A loss that is not a number fails the run. */
export function report(model) {
  const loss = validationLoss(model);
  if (!Number.isFinite(loss)) {
    console.error(`val_loss is ${loss}: training diverged`);
    process.exit(1);
  }
  console.log(`val_loss: ${loss.toFixed(4)}`);
}
