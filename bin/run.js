#!/usr/bin/env -S node --max-semi-space-size=32
// A 32 MB young generation (Node 20's default is 16): the API allocates per request, and with the
// default half its CPU went to garbage collection under load (npm run bench:api). Set in
// package.json's start script too; NODE_OPTIONS can add or override flags.
// The narrow entry point, not the package index: --help and --version load no more than they use.
import { execute } from '@oclif/core/execute';

await execute({ dir: import.meta.url });
