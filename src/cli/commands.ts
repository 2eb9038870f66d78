/** @file Registers the sub-commands implemented outside the core CLI (train, sample, ...). Each import registers itself. */
import './cmd-train.js';
import './register-generate.js';
import './cmd-demo.js';
import './cmd-experiment.js';
