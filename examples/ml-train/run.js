// The benchmark command's entry point: runs the training script as it is.
// (Protected, because the benchmark command names it; see README.md.)
import './train.js';
