/** @file Registers the sub-commands implemented outside the core CLI (train, sample, ...). Each import registers itself. */
export {};
